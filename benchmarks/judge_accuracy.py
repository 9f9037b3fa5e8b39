"""Agreement of the offline rule judges with hand labels.

    .venv/bin/python benchmarks/judge_accuracy.py

Written replies: `judge_labels.jsonl` (109) was used while writing the v1 patterns
(in-sample); `judge_labels_heldout.jsonl` (44) was written afterwards.

Real replies of the demo model (base and two adapters, starter eval and held-out sets,
64 new tokens), labelled by reading them (docs/labelling-guide.md): the tuning, dev and
dev2 files were used while writing the v2 patterns; `judge_real_heldout.jsonl` (75 xguard
conversations, 51 orbench replies) never was: the figures to quote. docs/judges.md
records them and how the sets came about.
"""

from pathlib import Path

from mosaic.tools.evaluation.judges.agreement import real_reply_agreement, rule_judge_agreement

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def show(name: str, figures: dict) -> None:
    print(f"== {name}")
    for objective, by_label in figures.items():
        print(f"  {objective} (n={by_label.pop('n')})")
        for label, share in by_label.items():
            print(f"    {label:<26} {share:.3f}")


if __name__ == "__main__":
    for name in ("judge_labels.jsonl", "judge_labels_heldout.jsonl"):
        show(name, rule_judge_agreement(FIXTURES / name))
    for name in ("judge_real_tuning.jsonl", "judge_real_dev.jsonl", "judge_real_dev2.jsonl",
                 "judge_real_heldout.jsonl"):
        show(name, real_reply_agreement(FIXTURES / name))

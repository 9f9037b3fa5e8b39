"""Agreement of the offline rule judges with hand labels.

    .venv/bin/python benchmarks/judge_accuracy.py

`judge_labels.jsonl` (109 replies) was used while writing the patterns: in-sample.
`judge_labels_heldout.jsonl` (44 replies) was written afterwards and never used to tune
them: the honest figure. Both are printed; docs/judges.md records them.
"""

from pathlib import Path

from mosaic.tools.judges.agreement import rule_judge_agreement

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"

if __name__ == "__main__":
    for name in ("judge_labels.jsonl", "judge_labels_heldout.jsonl"):
        print(f"== {name}")
        for objective, figures in rule_judge_agreement(FIXTURES / name).items():
            print(f"  {objective} (n={figures.pop('n')})")
            for label, share in figures.items():
                print(f"    {label:<26} {share:.3f}")

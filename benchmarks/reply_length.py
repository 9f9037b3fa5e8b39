"""How the judgements move with the reply cut (issue 16, step 6): evaluate the base model
and an adapter at several `max_new_tokens` on the same eval items, then print, per model
and length, every objective's mean with its interval, the standard rates, and the paired
change against the shortest cut.

    .venv/bin/python benchmarks/reply_length.py --adapter runs/some-round/adapter \\
        --out runs/reply-length [--lengths 64 128 256] [--per-slice N]

Evaluations are `mosaic eval` runs into OUT/<model>-<length>; one already there is reused,
so the script resumes after an interruption. Every table is judged afresh from the stored
replies by the current rule judge, so all lengths are read by the same rules even when the
evaluations ran at different times. Wall time per evaluation is printed too (only
meaningful on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from mosaic.schema import EvalReport, JudgedSample
from mosaic.tools.evaluation.generation import Decoding
from mosaic.tools.evaluation.paired import compare
from mosaic.tools.evaluation.report import build_report, metric_label, rate_cell

MODEL = "smollm2-135m-instruct"


def evaluate(out: Path, adapter: str | None, length: int, per_slice: int | None) -> float:
    """Run one evaluation unless it is there; its wall seconds (0 when reused). A folder
    made with other settings is an error, never silently reused."""
    settings = {"adapter": adapter, "max_new_tokens": length, "per_slice": per_slice}
    stamp = out / "reply_length.json"
    if (out / "report.json").is_file():
        made = json.loads(stamp.read_text()) if stamp.is_file() else None
        if made != settings:
            raise SystemExit(f"{out} holds an evaluation made with {made}, not {settings}: "
                             "use another --out or delete it")
        return 0.0
    command = [sys.executable, "-m", "mosaic.cli", "eval", "--model", MODEL,
               "--max-new-tokens", str(length), "--out", str(out)]
    command += ["--adapter", adapter] if adapter else []
    command += ["--per-slice", str(per_slice)] if per_slice else []
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    stamp.write_text(json.dumps(settings))
    return seconds


def rejudged(folder: Path, per_slice: int | None) -> tuple[EvalReport,
                                                         dict[str, list[JudgedSample]]]:
    """The evaluation in `folder`, judged again from its stored replies by today's rules."""
    from mosaic.tools.evaluation.eval_sets import DEFAULT_EVAL_SETS, STARTER_FORMAT, load_eval_set
    from mosaic.tools.evaluation.evaluate import judge_samples
    from mosaic.tools.evaluation.judges import RuleJudge

    stored: dict[str, dict[str, list[str]]] = {}
    for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        sample = JudgedSample.model_validate_json(line)
        stored.setdefault(sample.objective, {})[sample.id] = sample.replies
    judge, old = RuleJudge(), EvalReport.model_validate_json(
        (folder / "report.json").read_text(encoding="utf-8"))
    by_objective = {}
    for name, replies in stored.items():
        items = [i for i in load_eval_set(name, DEFAULT_EVAL_SETS[name], judge=judge,
                                          fmt=STARTER_FORMAT, per_slice=per_slice)
                 if i.id in replies]
        by_objective[name] = judge_samples(name, items, [replies[i.id] for i in items], judge)
    report = build_report(by_objective, model=old.model, adapter=old.adapter,
                          system_prompt=old.system_prompt,
                          decoding=Decoding.model_validate(
                              {k: v for k, v in old.decoding.items() if k != "judge"}),
                          judge=judge.id)
    return report, by_objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", required=True, help="the trained adapter to compare")
    parser.add_argument("--out", required=True, help="folder for the evaluations")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--per-slice", type=int, help="first N items of every slice")
    args = parser.parse_args()
    out = Path(args.out)
    for name, adapter in (("base", None), ("adapter", args.adapter)):
        folders = {n: out / f"{name}-{n}" for n in args.lengths}
        seconds = {}
        for n, folder in folders.items():
            print(f"[reply-length] {name} at {n} tokens ...", file=sys.stderr, flush=True)
            seconds[n] = evaluate(folder, adapter, n, args.per_slice)
        judged = {n: rejudged(folder, args.per_slice) for n, folder in folders.items()}
        shortest = judged[args.lengths[0]][1]
        ids = {n: {(s.objective, s.id) for group in by.values() for s in group}
               for n, (_, by) in judged.items()}
        if any(i != ids[args.lengths[0]] for i in ids.values()):
            raise SystemExit(f"{name}: the lengths were evaluated on different items")
        print(f"\n## {name}" + (f" ({adapter})" if adapter else ""))
        header = None
        for n in folders:
            report, by_objective = judged[n]
            deltas = compare(by_objective, shortest)
            cells = [f"{n}"]
            names = ["tokens"]
            for objective, part in report.objectives.items():
                names.append(f"{objective} mean")
                cells.append(f"{part.mean:.2f} [{part.ci_low:.2f}, {part.ci_high:.2f}]")
                d = deltas[objective].delta
                names.append(f"vs {args.lengths[0]}")
                cells.append(f"{d.mean:+.2f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}]")
                before = {x.id: x.response.score for x in shortest[objective]}
                names.append("scores changed")
                cells.append(str(sum(x.response.score != before.get(x.id)
                                     for x in by_objective[objective])))
                for metric, rate in part.metrics.items():
                    names.append(metric_label(objective, metric))
                    cells.append(rate_cell(rate))
            names.append("seconds")
            cells.append(f"{seconds[n]:.0f}" if seconds[n] else "reused")
            if header is None:
                header = names
                print("| " + " | ".join(header) + " |")
                print("|" + "---|" * len(header))
            print("| " + " | ".join(cells) + " |")
    print("\n" + json.dumps({"lengths": args.lengths, "out": str(out)}))


if __name__ == "__main__":
    main()

"""Per-step seconds of a run folder (from its events.jsonl), and the peak of a GPU memory
log (`nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits`).

    python scripts/loop_timings.py runs/gpu-check [--gpu-memory runs/gpu-check.gpu_memory.csv]

`scripts/gpu_check.sh` runs it after the loop; it reads files only, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def step_seconds(run: Path) -> list[tuple[int, str, float, bool]]:
    """(round, step, seconds, from the cache) of every finished step, in order."""
    steps = []
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if event.get("event") == "step_finished":
            steps.append((int(event["round"]), str(event["step"]),
                          float(event.get("seconds", 0.0)), bool(event.get("cached"))))
    return steps


def peak_memory(log: Path) -> tuple[int, int] | None:
    """(peak MiB used, MiB total) over the log's samples (several GPUs: the highest of
    any); None if it holds no sample."""
    peak, total = None, 0
    for line in log.read_text(encoding="utf-8").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            used = int(parts[0])
            peak, total = max(used, peak or 0), int(parts[1])
    return None if peak is None else (peak, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--gpu-memory", type=Path)
    args = parser.parse_args()
    steps = step_seconds(args.run)
    totals: dict[str, float] = defaultdict(float)
    print(f"{'round':>5}  {'step':<13} {'seconds':>9}")
    for round_number, step, seconds, cached in steps:
        totals[step] += seconds
        print(f"{round_number:>5}  {step:<13} {seconds:>9.1f}" + ("  (cached)" if cached else ""))
    print("total   " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in totals.items()))
    if args.gpu_memory:
        peak = peak_memory(args.gpu_memory) if args.gpu_memory.is_file() else None
        shown = "no samples" if peak is None else (
            f"{peak[0]:,} MiB of {peak[1]:,} MiB ({peak[0] / peak[1]:.0%})")
        print(f"peak GPU memory: {shown}")


if __name__ == "__main__":
    main()

"""Mixture builder speed on a synthetic 1M-row pool, against the reference's per-row sampler.

    .venv/bin/python benchmarks/mixture.py [--rows 1000000] [--budget 1000000] [--repeats 7]

The pool: xguard, orbench and ifeval rows (5, 4 and 5 slices: orbench has four), lognormal
templated lengths (medians ~700 / 150 / 350 tokens, like multi-turn attacks, short benign
questions and instruction-following answers), quality scores, and the attributes focus keys
match. The action: ratios 0.4/0.3/0.3, uneven bucket weights, an xguard focus on pressure
4-5 and an exclusion, an ifeval focus on instruction groups, a quality bar of 4.

Both samplers get the same pool and action, measured in the same run:
- mosaic's `build_mixture` (validation included), median of --repeats runs;
- the reference's algorithm as docs/reference.md §2.2 describe it, written in
  plain Python: per-row quality filter and include-OR focus test, `random.Random(seed)`
  shuffles, and a greedy first-fit walk per bucket in three phases (focus up to half the
  bucket, then the other rows, then all rows left). It runs over a list of dicts, which is
  kinder to it than the reference's pandas `.apply` and `.loc`. Median of 3 runs.

Goal (issue 5): mosaic at most 1 s and at least 20x faster.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from mosaic.config import MixSettings
from mosaic.data.pool_table import PoolTable, attribute_column
from mosaic.objectives import get_objective
from mosaic.schema import DataAction
from mosaic.tools.mixing.builder import build_mixture

SHARES = {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}
MEDIAN_TOKENS = {"xguard": 700, "orbench": 150, "ifeval": 350}
GROUPS = ("keywords", "length_constraints", "detectable_format", "punctuation", "startend")
ACTION = DataAction.model_validate({
    "ratios": SHARES,
    "objectives": {
        "xguard": {"bucket_weights": {"complexity_1": 0.05, "complexity_2": 0.1,
                                      "complexity_3": 0.2, "complexity_4": 0.3,
                                      "complexity_5": 0.35},
                   "focus": {"include": {"pressure_range": [4, 5]},
                             "exclude": {"category": ["cat-7"]}},
                   "focus_share": 0.5},
        "orbench": {"bucket_weights": {"boundary_1": 0.1, "boundary_2": 0.2,
                                       "boundary_3": 0.3, "boundary_4": 0.4}},
        "ifeval": {"bucket_weights": {"complexity_1": 0.1, "complexity_2": 0.15,
                                      "complexity_3": 0.25, "complexity_4": 0.25,
                                      "complexity_5": 0.25},
                   "focus": {"include": {"instruction_groups": ["length_constraints",
                                                               "startend"]}},
                   "focus_share": 0.4},
    }})


def synthetic_pools(n_rows: int, seed: int = 0
                    ) -> tuple[dict[str, PoolTable], dict[str, dict[str, list]]]:
    """The tables, and each row's attribute values as Python lists (for the reference)."""
    rng = np.random.default_rng(seed)
    pools, raw = {}, {}
    for name, share in SHARES.items():
        n = int(n_rows * share)
        objective = get_objective(name)
        tokens = np.clip(rng.lognormal(np.log(MEDIAN_TOKENS[name]), 0.6, n), 20, 4096)
        slices = rng.integers(0, len(objective.slices), n).astype(np.int16)
        raw[name] = {"pressure": rng.integers(1, 6, n).tolist(),
                     "category": [f"cat-{i}" for i in rng.integers(0, 10, n)]}
        if name == "ifeval":
            raw[name]["instruction_groups"] = [
                [GROUPS[a], GROUPS[b]] for a, b in rng.integers(0, len(GROUPS), (n, 2)).tolist()]
        attributes = {attr: attribute_column(values) for attr, values in raw[name].items()}
        pools[name] = PoolTable(
            objective=name, ids=np.asarray([f"{name}-{i}" for i in range(n)], dtype=object),
            tokens=tokens.astype(np.int64), assistant_tokens=(tokens * 0.4).astype(np.int64),
            slices=slices, slice_names=objective.slices,
            quality=rng.choice([3.0, 4.0, 5.0], n, p=[0.1, 0.3, 0.6]),
            attributes=attributes, token_count="templated:synthetic",
            fingerprint=f"synthetic-{name}-{n}-{seed}")
    return pools, raw


# ---------------------------------------------------------------------------------------
# The reference's sampler, per row (docs/reference.md §2.2)


def as_dicts(pools: dict[str, PoolTable], raw: dict[str, dict[str, list]]
             ) -> dict[str, list[dict]]:
    """The pool as the reference holds it: one record per row (not timed)."""
    out = {}
    for name, table in pools.items():
        columns = {"_slice": [table.slice_names[c] for c in table.slices.tolist()],
                   "_tokens": table.tokens.tolist(), "_score": table.quality.tolist()}
        columns.update(raw[name])
        keys = list(columns)
        out[name] = [dict(zip(keys, values, strict=True))
                     for values in zip(*columns.values(), strict=True)]
        for i, row in enumerate(out[name]):
            row["id"] = i
    return out


def _is_focus(row: dict, include: dict) -> bool:
    for key, values in include.items():  # include-OR over keys, as the reference does
        if key == "pressure_range" and values[0] <= row["pressure"] <= values[1]:
            return True
        if key == "instruction_groups" and any(g in values for g in row["instruction_groups"]):
            return True
    return False


def sample_by_tokens(rows: list[dict], budget: int, seed: int, include: dict,
                     focus_ratio: float = 0.5) -> list[dict]:
    rng = random.Random(seed)
    chosen: list[dict] = []
    used = 0
    taken: set[int] = set()

    def walk(candidates: list[dict], cap: int) -> None:
        nonlocal used
        for row in candidates:
            if used >= cap:
                break
            if used + row["_tokens"] <= cap:
                chosen.append(row)
                taken.add(row["id"])
                used += row["_tokens"]

    focus = [r for r in rows if include and _is_focus(r, include)]
    other = [r for r in rows if not (include and _is_focus(r, include))]
    rng.shuffle(focus)
    walk(focus, int(budget * focus_ratio))
    rng.shuffle(other)
    walk(other, budget)
    if budget - used > 50:
        rest = [r for r in rows if r["id"] not in taken]
        rng.shuffle(rest)
        walk(rest, budget)
    return chosen


def reference_sampler(rows_by_objective: dict[str, list[dict]], budget: int, seed: int,
                      min_quality: float) -> int:
    total = 0
    for name, rows in rows_by_objective.items():
        plan = ACTION.objectives[name]
        exclude = plan.focus.exclude.get("category", [])
        source = [r for r in rows if r["_score"] >= min_quality and r["category"] not in exclude]
        source_budget = int(budget * SHARES[name])
        weights = plan.bucket_weights
        for bucket, weight in weights.items():
            in_bucket = [r for r in source if r["_slice"] == bucket]
            picked = sample_by_tokens(in_bucket, int(source_budget * weight / sum(
                weights.values())), seed, plan.focus.include)
            total += sum(r["_tokens"] for r in picked)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    pools, raw = synthetic_pools(args.rows)
    settings = MixSettings(budget=args.budget, seed=42, min_quality=4)
    buckets = sum(len(t.slice_names) for t in pools.values())
    print(f"pool: {args.rows:,} rows, {sum(int(t.tokens.sum()) for t in pools.values()):,} "
          f"tokens, {len(pools)} objectives x {buckets} buckets (built in "
          f"{time.perf_counter() - started:.1f}s); budget {args.budget:,} tokens")

    times = []
    for _ in range(args.repeats):
        for table in pools.values():
            table.memo.clear()  # every run starts cold: no selection remembered
        t0 = time.perf_counter()
        mixture = build_mixture(ACTION, pools, settings)
        times.append(time.perf_counter() - t0)
    manifest = mixture.manifest
    ours = statistics.median(times)
    print(f"mosaic build_mixture : median {ours * 1000:8.1f} ms over {args.repeats} runs "
          f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); "
          f"{len(mixture):,} rows, {manifest.realised_tokens:,} tokens "
          f"({manifest.realised_tokens / args.budget:.2%} of the budget)")

    rows = as_dicts(pools, raw)
    ref_times, realised = [], 0
    for _ in range(3):
        t0 = time.perf_counter()
        realised = reference_sampler(rows, args.budget, settings.seed, 4.0)
        ref_times.append(time.perf_counter() - t0)
    theirs = statistics.median(ref_times)
    print(f"per-row first fit    : median {theirs * 1000:8.1f} ms over 3 runs; "
          f"{realised:,} tokens ({realised / args.budget:.2%} of the budget)")
    print(f"speed-up             : {theirs / ours:.1f}x  (goal: mosaic <= 1 s and >= 20x; "
          f"{'met' if ours <= 1 and theirs / ours >= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()

"""Does the search find a better mixture than simple ones? (issue 17)

    .venv/bin/python benchmarks/search.py --preset demo --out runs/bench-search [KEY=VALUE ...]

Every method trains with the same budget, training settings and eval items (the preset's,
with the same KEY=VALUE overrides as `mosaic run`):

- `loop`: `mosaic run` (the analyst; the LLM diagnoser when the preset configures one);
  its recommended round;
- `one_shot`: the loop's first action only (its round 1), no iteration;
- `uniform`: equal ratios, buckets as the pools come;
- `random_0..2`: ratios and bucket weights drawn from a flat Dirichlet (seeds 0, 1, 2),
  and `random_best`: the best of the three on the eval sets (max-min, as the loop
  recommends);
- `only_<objective>`: the whole budget on one objective;
- `loop_seed+1`, `loop_seed+2`: the loop's recommended mixture trained again with
  `train.seed` + 1 and + 2, so the table shows how much of its result is the seed.

The search and the selections read only the eval sets. Then every chosen model, and the
base model, is evaluated once on the held-out sets (all their items by default), which
nothing before read: the table
gives per method the held-out mean of every objective with its interval, the change vs
`uniform` item by item with its paired interval, the standard rates, the hypervolume and
max-min of the held-out means, and the wall time the method cost (its training and
evaluations; `random_best` the three draws, `one_shot` the loop's base evaluation and
round 1).

Everything lands in OUT (one run folder per method, `heldout/` for the final evaluations)
and in the artifact cache, so an interrupted benchmark goes on where it stopped: run the
same command again. Writes OUT/search.md and OUT/search.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mosaic.config import RunConfig, apply_overrides, load_preset
from mosaic.loop.context import RunContext
from mosaic.loop.rounds import (
    check_action,
    evaluate_round,
    load_records,
    make_mixture,
    read_samples,
    train_adapter,
)
from mosaic.schema import DataAction, EvalReport, ObjectivePlan, PairedDelta, Rate
from mosaic.store import RunFolder, write_json_atomic
from mosaic.tools.evaluation.paired import compare
from mosaic.tools.evaluation.pareto import hypervolume
from mosaic.tools.evaluation.report import metric_label, rate_cell
from mosaic.tools.reporting.run_tables import delta_cell

RANDOM_SEEDS = (0, 1, 2)
SPREAD_SEEDS = (1, 2)
"""Offsets to `train.seed` for training the loop's recommended mixture again."""


def say(text: str) -> None:
    print(f"[search] {text}", file=sys.stderr, flush=True)


def context(folder: Path, config: RunConfig) -> RunContext:
    """The run in `folder`: opened when it is there (resume), else created."""
    if (folder / "config.json").is_file():
        return RunContext.open(folder)
    return RunContext.create(config, folder)


def step_seconds(folder: Path, rounds: set[int] | None = None) -> float:
    """Seconds the finished steps of a run folder took (all rounds, or only `rounds`)."""
    return round(sum(e.get("seconds") or 0.0 for e in RunFolder(folder).read_events()
                     if e.get("event") == "step_finished"
                     and (rounds is None or e.get("round") in rounds)), 1)


# ---------------------------------------------------------------------------------------
# The methods' actions


def uniform_action(ctx: RunContext) -> DataAction:
    from mosaic.agents.analyst import starting_action

    return starting_action(ctx.pools(), ctx.config.mixture)


def random_action(ctx: RunContext, seed: int) -> DataAction:
    """Ratios and every objective's bucket weights from a flat Dirichlet."""
    from mosaic.tools.mixing.capacity import capacity

    rng = np.random.default_rng(seed)
    pools = ctx.pools()
    ratios = rng.dirichlet(np.ones(len(pools)))
    plans = {}
    for name, table in pools.items():
        cap = capacity(table, None, ctx.config.mixture)
        buckets = sorted(b for b, tokens in cap.buckets.items() if tokens > 0)
        if buckets:
            weights = rng.dirichlet(np.ones(len(buckets)))
            plans[name] = ObjectivePlan(bucket_weights=dict(zip(
                buckets, (round(float(w), 6) for w in weights), strict=True)))
    return DataAction(ratios={n: round(float(r), 6) for n, r in zip(pools, ratios,
                                                                     strict=True)},
                      objectives=plans, rationale=f"flat Dirichlet draw, seed {seed}")


def single_action(ctx: RunContext, objective: str) -> DataAction:
    return DataAction(ratios={n: float(n == objective) for n in ctx.pools()},
                      rationale=f"the whole budget on {objective}")


def train_static(folder: Path, config: RunConfig, action: DataAction) -> str:
    """One static mixture: validate, build, train, evaluate on the eval sets (round 1 of
    its own run folder, the base model as round 0); the adapter's cache key."""
    ctx = context(folder, config)
    if not (ctx.run.round_dir(0) / "eval" / "report.json").is_file():
        evaluate_round(ctx, 0, None)
    action, _, _ = check_action(ctx, 1, action)
    adapter = train_adapter(ctx, 1, make_mixture(ctx, 1, action))
    evaluate_round(ctx, 1, adapter)
    return adapter


def max_min(report: EvalReport, objectives: list[str]) -> tuple[float, float]:
    means = [report.objectives[o].mean or 0.0 for o in objectives]
    return min(means), sum(means)


# ---------------------------------------------------------------------------------------
# Run every method, then the held-out evaluations


def run_methods(config: RunConfig, out: Path) -> dict[str, dict[str, Any]]:
    """Method -> {adapter, seconds, note}: every method's chosen model, read off the eval
    sets only."""
    import mosaic.loop as api

    methods: dict[str, dict[str, Any]] = {}
    loop = out / "loop"
    say("loop: mosaic run" + (" (resuming)" if (loop / "config.json").is_file() else ""))
    if (loop / "config.json").is_file():
        api.resume(loop)
    else:
        api.run(config, loop)
    archive = json.loads((loop / "archive.json").read_text(encoding="utf-8"))
    recommended = archive["recommended"]
    adapter_of = {r.round: r.adapter for r in load_records(loop / "archive.json")}
    methods["loop"] = {"adapter": adapter_of.get(recommended), "seconds": step_seconds(loop),
                       "eval": (loop, recommended),
                       "note": f"recommended round {recommended} of "
                               f"{len(adapter_of) - 1} trained"}
    methods["one_shot"] = {"adapter": adapter_of.get(1), "seconds": step_seconds(loop, {0, 1}),
                           "eval": (loop, 1), "note": "the loop's round 1"}

    ctx = context(out / "uniform", config)
    statics = {"uniform": uniform_action(ctx)}
    statics |= {f"random_{s}": random_action(ctx, s) for s in RANDOM_SEEDS}
    statics |= {f"only_{o}": single_action(ctx, o) for o in ctx.objectives}
    for name, action in statics.items():
        say(f"{name}: ratios " + ", ".join(f"{o} {r:.2f}" for o, r in action.ratios.items()))
        adapter = train_static(out / name, config, action)
        methods[name] = {"adapter": adapter, "seconds": step_seconds(out / name),
                         "eval": (out / name, 1),
                         "note": ", ".join(f"{o} {r:.2f}" for o, r in action.ratios.items())}

    objectives = list(config.pools)
    scored = {f"random_{s}": max_min(EvalReport.model_validate_json(
        (out / f"random_{s}" / "rounds" / "001" / "eval" / "report.json").read_text()),
        objectives) for s in RANDOM_SEEDS}
    best = max(scored, key=lambda n: (scored[n], -int(n.split("_")[1])))
    methods["random_best"] = {"adapter": methods[best]["adapter"],
                              "seconds": round(sum(methods[f"random_{s}"]["seconds"]
                                                   for s in RANDOM_SEEDS), 1),
                              "eval": methods[best]["eval"],
                              "note": f"{best} (best max-min on the eval sets)"}
    action_of = {r.round: r.action for r in load_records(loop / "archive.json")}
    methods |= seed_methods(config, out, recommended, action_of.get(recommended))
    return methods


def seed_methods(config: RunConfig, out: Path, recommended: int, action: DataAction | None
                 ) -> dict[str, dict[str, Any]]:
    """The loop's recommended mixture trained again with other training seeds (the loop's
    own run is `train.seed` as configured): how much of its result is the seed. Nothing
    when the base model is recommended (no mixture to train)."""
    if action is None:
        say("seeds: the base model is recommended; no mixture to train again")
        return {}
    methods = {}
    for seed in SPREAD_SEEDS:
        seeded = config.model_copy(update={"train": config.train.model_copy(
            update={"seed": config.train.seed + seed})})
        name = f"loop_seed+{seed}"
        say(f"{name}: round {recommended}'s mixture, train.seed {seeded.train.seed}")
        adapter = train_static(out / name, seeded, action)
        methods[name] = {"adapter": adapter, "seconds": step_seconds(out / name),
                         "eval": (out / name, 1),
                         "note": f"round {recommended}'s mixture, train.seed "
                                 f"{seeded.train.seed}"}
    return methods


def heldout(config: RunConfig, out: Path, methods: dict[str, dict[str, Any]],
            per_slice: int | None = None) -> None:
    """Evaluate the base model (round 0) and every method's model on the held-out sets
    (all their items, or `per_slice` of every slice), in one run folder (one model load)."""
    held = config.model_copy(update={"eval": config.eval.model_copy(
        update={"split": "heldout", "per_slice": per_slice, "limit": None})})
    ctx = context(out / "heldout", held)
    rounds = {"base": 0} | {name: i for i, name in enumerate(methods, start=1)}
    write_json_atomic(out / "heldout" / "methods.json", rounds)
    for name, number in rounds.items():
        if (ctx.run.round_dir(number) / "eval" / "report.json").is_file():
            continue
        say(f"held-out evaluation: {name}")
        evaluate_round(ctx, number, None if name == "base" else methods[name]["adapter"])


# ---------------------------------------------------------------------------------------
# The table


def evaluations(out: Path, methods: dict[str, dict[str, Any]], split: str
                ) -> dict[str, tuple[Path, int]]:
    """Method (and `base`) -> (run folder, round) of its evaluation on `split`."""
    if split == "heldout":
        rounds = json.loads((out / "heldout" / "methods.json").read_text(encoding="utf-8"))
        return {name: (out / "heldout", rounds[name]) for name in ["base", *methods]}
    return {"base": (out / "uniform", 0)} | {n: m["eval"] for n, m in methods.items()}


def summarise(config: RunConfig, methods: dict[str, dict[str, Any]],
              where: dict[str, tuple[Path, int]], split: str) -> dict[str, Any]:
    objectives = list(config.pools)
    samples = {name: read_samples(RunFolder(folder), n) for name, (folder, n) in where.items()}
    reports = {name: EvalReport.model_validate_json(
        (RunFolder(folder).round_dir(n) / "eval" / "report.json").read_text(encoding="utf-8"))
        for name, (folder, n) in where.items()}
    rows = {}
    for name in where:
        report = reports[name]
        means = [report.objectives[o].mean or 1.0 for o in objectives]
        vs_uniform = compare(samples[name], samples["uniform"])
        vs_base = compare(samples[name], samples["base"])
        rows[name] = {
            "seconds": methods.get(name, {}).get("seconds"),
            "note": methods.get(name, {}).get("note", "no training"),
            "objectives": {o: {
                "mean": report.objectives[o].mean,
                "ci": [report.objectives[o].ci_low, report.objectives[o].ci_high],
                "vs_uniform": vs_uniform[o].delta.model_dump(mode="json"),
                "vs_base": vs_base[o].delta.model_dump(mode="json"),
                "metrics": {m: r.model_dump(mode="json")
                            for m, r in report.objectives[o].metrics.items()}}
                for o in objectives},
            "hypervolume": round(hypervolume([means]), 4),
            "max_min": round(min(means), 4),
        }
    return {"preset": config.preset, "budget": config.mixture.budget, "split": split,
            "train": config.train.model_dump(mode="json"), "rows": rows}


def delta_text(d: dict[str, Any]) -> str:
    """A paired change from the JSON summary, as the run report writes it."""
    return delta_cell(PairedDelta.model_validate(d))


def markdown(summary: dict[str, Any]) -> str:
    rows = summary["rows"]
    objectives = list(next(iter(rows.values()))["objectives"])
    sets = "held-out" if summary["split"] == "heldout" else "eval-set"
    lines = [f"# Search benchmark: preset {summary['preset']}, "
             f"{summary['budget']:,} tokens per trained model, {sets} results", "",
             f"{sets.capitalize()} means (95% interval) and the change vs `uniform` item by "
             "item (paired 95% interval; * excludes 0).", "",
             "| method | " + " | ".join(f"{o} | vs uniform" for o in objectives)
             + " | hypervolume | max-min | seconds | what |",
             "|---|" + "---|---|" * len(objectives) + "---|---|---|---|"]
    for name, row in rows.items():
        cells = []
        for o in objectives:
            part = row["objectives"][o]
            cells.append(f"{part['mean']:.2f} [{part['ci'][0]:.2f}, {part['ci'][1]:.2f}]")
            cells.append("-" if name == "uniform" else delta_text(part["vs_uniform"]))
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.0f}"
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {row['hypervolume']:.3f} | {row['max_min']:.2f} | {seconds} | "
                     f"{row['note']} |")
    lines += ["", "Change vs the base model, item by item (paired 95% interval; * excludes "
              "0).", "", "| method | " + " | ".join(objectives) + " |",
              "|---|" + "---|" * len(objectives)]
    lines += [f"| {name} | " + " | ".join(delta_text(row["objectives"][o]["vs_base"])
                                          for o in objectives) + " |"
              for name, row in rows.items() if name != "base"]
    columns = [(o, m) for o in objectives
               for m in next(iter(rows.values()))["objectives"][o]["metrics"]]
    lines += ["", f"Standard rates on the {sets.removesuffix('-set')} sets (95% Wilson "
              "interval).", "",
              "| method | " + " | ".join(metric_label(o, m) for o, m in columns) + " |",
              "|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            rate_cell(Rate.model_validate(row["objectives"][o]["metrics"][m]))
            for o, m in columns) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--out", required=True, help="benchmark folder (resumable)")
    parser.add_argument("--search-only", action="store_true",
                        help="run the methods and show their eval-set results only; the "
                        "held-out sets stay unread (choose settings this way)")
    parser.add_argument("--heldout-per-slice", type=int, help="held-out items per slice "
                        "(default: every item; the search's own eval.per_slice does not "
                        "apply, since a paired interval over 12 items cannot show a change "
                        "of 0.2)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    config, lines = apply_overrides(load_preset(args.preset), args.overrides)
    for line in lines:
        say(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = run_methods(config, out)
    split = "eval" if args.search_only else "heldout"
    if split == "heldout":
        heldout(config, out, methods, args.heldout_per_slice)
    summary = summarise(config, methods, evaluations(out, methods, split), split)
    name = "search" if split == "heldout" else "search-eval"
    write_json_atomic(out / f"{name}.json", summary | {"methods": {
        n: {k: v for k, v in m.items() if k != "eval"} for n, m in methods.items()}})
    (out / f"{name}.md").write_text(markdown(summary), encoding="utf-8")
    print(markdown(summary))


if __name__ == "__main__":
    main()

"""The round steps as plain functions (no LangGraph), on the tiny preset, and the graph's
wiring as docs/reference.md §4.3 draws it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mosaic.config import apply_overrides, load_preset
from mosaic.errors import ConfigError
from mosaic.loop import diagnosis, rounds
from mosaic.loop.context import RunContext
from mosaic.schema import DataAction, RoundRecord


@pytest.fixture
def ctx(tmp_path):
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", "eval.per_slice=1", "eval.max_new_tokens=8",
        "train.epochs=1", "mixture.budget=4000"])
    return RunContext.create(config, tmp_path / "run", progress=False)


def test_one_round_by_hand_reuses_every_cached_artifact_the_second_time(ctx):
    """base eval -> analyst -> validate -> mixture -> adapter -> eval -> record; doing the
    round again finds the mixture, adapter and evaluation in the cache."""
    base_report = rounds.evaluate_round(ctx, 0, adapter=None)
    base = rounds.record_round(ctx, [], 0, report_path=base_report)
    assert base.accepted and base.hypervolume is not None and base.action is None

    action, who = diagnosis.propose_action(ctx, [base])
    action, validation, changes = rounds.check_action(ctx, 1, action)
    assert who == "analyst" and validation.ok and changes == []
    mixture = rounds.make_mixture(ctx, 1, action)
    adapter = rounds.train_adapter(ctx, 1, mixture)
    report = rounds.evaluate_round(ctx, 1, adapter=adapter)
    record = rounds.record_round(ctx, [base], 1, report_path=report, action=action,
                                 diagnoser=who, mixture=mixture, adapter=adapter)
    assert record.mixture_hash and record.budget == 4000
    assert 0 < sum(record.tokens_by_objective.values()) <= 4000
    assert set(record.seconds) == {"build_mixture", "train", "evaluate"}

    assert rounds.make_mixture(ctx, 1, action) == mixture
    assert rounds.train_adapter(ctx, 1, mixture) == adapter
    assert rounds.evaluate_round(ctx, 1, adapter=adapter) == report
    finished = [e for e in ctx.run.read_events() if e["event"] == "step_finished"]
    assert [e["cached"] for e in finished[-3:]] == [True, True, True]

    archive = json.loads(ctx.run.archive.read_text())
    assert [r["round"] for r in archive["records"]] == [0, 1]
    assert archive["recommended"] in archive["front"]


def test_a_damaged_or_deleted_artifact_is_built_again_from_its_inputs(ctx):
    """An adapter cut short (its completion marker still there) is found by its recorded
    size, set aside and trained again; a deleted mixture is built again from the action;
    without its inputs a lost artifact is refused naming the folder."""
    import shutil

    from mosaic.errors import MosaicError

    action = DataAction(ratios={"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3})
    mixture = rounds.make_mixture(ctx, 1, action)
    adapter = rounds.train_adapter(ctx, 1, mixture)
    weights = next(ctx.cache.folder("adapters", adapter).glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert rounds.train_adapter(ctx, 1, mixture) == adapter  # trained again, same key
    trains = [e for e in ctx.run.read_events()
              if e["event"] == "step_finished" and e["step"] == "train"]
    assert [e["cached"] for e in trains] == [False, False]
    assert list(ctx.cache.folder("adapters", adapter).parent.glob(f".{adapter}.damaged-*"))

    shutil.rmtree(ctx.cache.folder("mixtures", mixture))
    with pytest.raises(MosaicError, match="is missing or damaged"):
        rounds.train_adapter(ctx, 1, mixture)
    again = lambda: rounds.make_mixture(ctx, 1, action)  # noqa: E731
    assert rounds.train_adapter(ctx, 1, mixture, again) == adapter  # the adapter was intact
    assert ctx.cache.has_folder("mixtures", mixture)

    shutil.rmtree(ctx.cache.folder("adapters", adapter))
    report = rounds.evaluate_round(ctx, 1, adapter,
                                   rebuild_adapter=lambda: rounds.train_adapter(ctx, 1, mixture))
    assert report and ctx.cache.has_folder("adapters", adapter)


def test_a_changed_action_is_a_new_mixture_and_an_invalid_one_is_repaired(ctx):
    ratios = {"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25}
    first = rounds.mixture_key(ctx, DataAction(ratios=ratios))
    assert rounds.mixture_key(ctx, DataAction(ratios=ratios, rationale="why")) == first
    assert rounds.mixture_key(ctx, DataAction(
        ratios={"xguard": 0.25, "orbench": 0.5, "ifeval": 0.25})) != first
    action, report, changes = rounds.check_action(
        ctx, 1, DataAction(ratios={"xguard": 2.0, "orbench": 1.0, "ifeval": 1.0}))
    assert report.ok and changes and abs(sum(action.ratios.values()) - 1) < 1e-9
    saved = json.loads((ctx.run.round_dir(1) / "validation.json").read_text())
    assert saved["ok"] and saved["repairs"]


def test_stop_rules_round_limit_and_patience(ctx):
    def rec(n, hv):
        return RoundRecord(round=n, hypervolume=hv)

    assert rounds.stop_reason(ctx, [rec(0, 1.0)]) is None
    assert rounds.stop_reason(ctx, [rec(0, 1.0), rec(1, 2.0), rec(2, 2.0)]) == (
        "round limit (2 rounds)")
    ctx.config = apply_overrides(ctx.config, ["loop.rounds=9", "loop.patience=2"])[0]
    assert rounds.stop_reason(ctx, [rec(0, 1.0), rec(1, 1.0)]) is None
    assert rounds.stop_reason(ctx, [rec(0, 1.0), rec(1, 1.0), rec(2, 1.0)]).startswith(
        "no front improvement for 2 rounds")


def test_a_run_folder_is_never_started_twice(ctx):
    with pytest.raises(ConfigError, match="already holds a run"):
        RunContext.create(ctx.config, ctx.run.root)
    reopened = RunContext.open(ctx.run.root)
    assert reopened.config == ctx.config and reopened.objectives == ctx.objectives
    with pytest.raises(ConfigError, match="not a mosaic run"):
        RunContext.open(ctx.run.root / "nope")


def test_the_graph_is_wired_as_the_round_diagram():
    from mosaic.loop.graph import build_graph

    graph = build_graph().compile().get_graph()
    edges = {(e.source, e.target) for e in graph.edges}
    assert {("__start__", "baseline_eval"), ("baseline_eval", "update_archive"),
            ("update_archive", "diagnose"), ("update_archive", "report"),
            ("diagnose", "validate"), ("validate", "approve"), ("approve", "build_mixture"),
            # review mode: an edit or a new rule, a rejection, a note, a stop
            ("approve", "validate"), ("approve", "diagnose"), ("approve", "approve"),
            ("approve", "report"),
            ("build_mixture", "train"), ("train", "evaluate"),
            ("evaluate", "update_archive"), ("report", "__end__")} == edges


def test_a_run_whose_constraints_cannot_hold_is_refused_before_its_folder_is_written(
        tmp_path):
    from mosaic.schema import Constraint

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}"])
    both = [Constraint(kind="min_share", objective="xguard", value=0.7),
            Constraint(kind="min_share", objective="orbench", value=0.7)]
    with pytest.raises(ConfigError, match=r"cannot hold.*add up to more than 1"):
        RunContext.create(config.model_copy(update={"constraints": both}),
                                 tmp_path / "run", progress=False)
    typo = [Constraint(kind="score_floor", objective="ifevl", value=3.0)]
    with pytest.raises(ConfigError, match="objective 'ifevl' is not one of this run's"):
        RunContext.create(config.model_copy(update={"constraints": typo}),
                                 tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "config.json").exists()


def test_the_cache_path_is_written_absolute_so_resume_works_from_anywhere(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, _ = apply_overrides(load_preset("tiny"), ["cache=relative-cache"])
    ctx = RunContext.create(config, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["cache"]
    assert saved == str(tmp_path / "relative-cache") == str(ctx.cache.root)
    monkeypatch.chdir("/")
    assert RunContext.open(tmp_path / "run").cache.root == tmp_path / "relative-cache"


def test_local_pool_and_eval_paths_are_written_absolute_and_ids_as_given(tmp_path,
                                                                       monkeypatch):
    """A run started with relative data paths resumes from any directory; a `starter:`
    name or a Hugging Face id (no such local path) is kept as given."""
    import shutil

    from mosaic.data.compose import STARTER_DIR

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    shutil.copy(STARTER_DIR / "xguard_pool.jsonl", tmp_path / "data" / "x.jsonl")
    shutil.copy(Path(__file__).parent / "fixtures" / "orbench.csv", tmp_path / "data" / "or.csv")
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", "pools.xguard.path=data/x.jsonl",
        "eval.data.orbench=data/or.csv"])
    RunContext.create(config, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["pools"]["xguard"]["path"] == str(tmp_path / "data" / "x.jsonl")
    assert saved["pools"]["orbench"]["path"] == "starter:orbench_pool.jsonl"
    assert saved["eval"]["data"]["orbench"] == str(tmp_path / "data" / "or.csv")
    monkeypatch.chdir("/")
    reopened = RunContext.open(tmp_path / "run", progress=False)
    assert len(reopened.pools()["xguard"]) > 0 and reopened.eval_sets()["orbench"]
    from mosaic.loop.context import _absolute

    assert _absolute("google/IFEval") == "google/IFEval"


def test_misconfigured_data_is_refused_before_the_run_folder_is_written(tmp_path):
    """A key naming no objective, an empty pool and an empty eval set: each named, all at
    once for the data, before any model loads or config.json is written."""
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "empty.csv").write_text("prompt,category\n")
    base, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}"])
    typo, _ = apply_overrides(base, [f"eval.data.orbnech={tmp_path / 'empty.csv'}"])
    with pytest.raises(ConfigError, match=r"eval\.data\.orbnech: 'orbnech' is not one of "
                                          r"this run's objectives \(xguard, orbench, ifeval\)"):
        RunContext.create(typo, tmp_path / "typo", progress=False)
    empty, _ = apply_overrides(base, [f"pools.xguard.path={tmp_path / 'empty.jsonl'}",
                                      f"eval.data.orbench={tmp_path / 'empty.csv'}"])
    with pytest.raises(ConfigError) as raised:
        RunContext.create(empty, tmp_path / "empty", progress=False)
    assert "pool 'xguard'" in str(raised.value) and "has no usable rows" in str(raised.value)
    assert "eval set 'orbench' has no items" in str(raised.value)
    assert not (tmp_path / "typo").exists() and not (tmp_path / "empty" / "config.json").exists()


def test_a_pool_row_longer_than_the_training_cut_is_planned_at_the_cut(tmp_path, capsys):
    """One enormous row (about 100k tokens) would take its bucket's whole budget for tokens
    the trainer cuts away: it is counted, planned at the cut and warned about."""
    from mosaic.tools.mixing.pools import load_pools

    source = load_preset("tiny").pools["xguard"].resolved()
    rows = [json.loads(line) for line in Path(source).read_text().splitlines()]
    huge = {**rows[0], "id": "enormous"}
    huge["messages"] = [dict(m) for m in huge["messages"]]
    huge["messages"][0]["content"] = "please " * 100_000
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*rows, huge]))
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", f"pools.xguard.path={tmp_path / 'pool.jsonl'}"])
    RunContext.create(config, tmp_path / "run", progress=True)
    warning = capsys.readouterr().out
    cut = config.train.max_example_tokens
    assert f"pool 'xguard': 1 row(s) longer than train.max_example_tokens ({cut:,}" in warning
    table = load_pools(config)["xguard"]
    assert table.cut_rows == 1 and table.longest > 100_000
    assert int(table.tokens[list(table.ids).index("enormous")]) == cut
    assert table.tokens.max() <= cut
    uncut, _ = apply_overrides(config, ["train.max_example_tokens=1000000"])
    assert load_pools(uncut)["xguard"].fingerprint != table.fingerprint  # no stale mixture


def test_a_floor_added_mid_run_applies_to_rounds_already_archived(ctx):
    """Regression: a floor added after round 1 marked only later rounds, so round 1 stayed
    recommended although it broke the floor."""
    from mosaic.schema import Constraint

    objectives = ("xguard", "orbench", "ifeval")
    round_1 = RoundRecord(round=1, means=dict.fromkeys(objectives, 3.0))
    assert rounds.with_floors(ctx, [round_1])[0].breaches == []
    assert ctx.add_constraint(Constraint(kind="score_floor", objective="xguard", value=4.5,
                                         origin="chat")) == ""
    assert rounds.with_floors(ctx, [round_1])[0].breaches == [
        "xguard mean score stays >= 4.5 (mean 3.000)"]
    assert ctx.add_constraint(Constraint(kind="pin_bucket", objective="xguard",
                                         slice="nope", value=0.5)) == (
        "'nope' is not a slice of xguard")
    assert [c.origin for c in ctx.constraints] == ["chat"]


def test_eval_split_heldout_reads_the_starter_heldout_sets(tmp_path):
    """The search benchmark's final evaluation: no item of the eval sets, every objective."""
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", "eval.per_slice=1", "eval.split=heldout"])
    held = RunContext.create(config, tmp_path / "held", progress=False).eval_sets()
    config, _ = apply_overrides(load_preset("tiny"), [
        f"cache={tmp_path / 'cache'}", "eval.per_slice=1"])
    usual = RunContext.create(config, tmp_path / "usual", progress=False).eval_sets()
    assert set(held) == set(usual) == {"xguard", "orbench", "ifeval"}
    for name in held:
        ids = {item.id for item in held[name]}
        assert ids and all("heldout" in i for i in ids)
        assert not ids & {item.id for item in usual[name]}
    with pytest.raises(ConfigError, match="split"):
        apply_overrides(load_preset("tiny"), ["eval.split=test"])

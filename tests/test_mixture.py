"""The mixture builder on toy pools with known token counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mosaic.config import MixSettings
from mosaic.data.mixture_files import write_mixture
from mosaic.data.pool_table import pool_table
from mosaic.errors import ActionError, ConfigError
from mosaic.schema import DataAction, MixtureManifest, ObjectivePlan
from mosaic.tools.mixing.builder import build_mixture, first_fit
from mosaic.tools.mixing.repair import repair_action
from tests.toy_pools import TOKEN_COUNT, toy_pool, toy_pools, toy_row

POOLS = toy_pools(rows_per_slice=60)  # ~13-16k tokens per objective
MAX_ROW = 400


def action(ratios=None, **objectives) -> DataAction:
    return DataAction.model_validate({
        "ratios": ratios or {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3},
        "objectives": objectives})


def taken_rows(mixture, objective):
    i = mixture.objectives.index(objective)
    return mixture.row_index[mixture.objective_index == i]


def naive_first_fit(tokens, capacity):
    taken, left = [], capacity
    for t in tokens:
        if t <= left:
            taken.append(True)
            left -= t
        else:
            taken.append(False)
    return taken


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 500), max_size=2_000), st.integers(0, 200_000))
def test_first_fit_takes_exactly_what_a_row_by_row_walk_takes(tokens, capacity):
    got = first_fit(np.asarray(tokens, dtype=np.int64), capacity)
    assert got.tolist() == np.flatnonzero(naive_first_fit(tokens, capacity)).tolist()


def test_same_seed_same_mixture_and_another_seed_another():
    mix = MixSettings(budget=12_000, seed=3)
    one, two = build_mixture(action(), POOLS, mix), build_mixture(action(), POOLS, mix)
    assert one.manifest == two.manifest
    assert one.row_index.tolist() == two.row_index.tolist()
    other = build_mixture(action(), POOLS, MixSettings(budget=12_000, seed=4))
    assert other.manifest.content_hash != one.manifest.content_hash


def test_budget_is_split_by_ratio_then_bucket_weight_and_nearly_filled():
    budget = 12_000
    weights = {"complexity_3": 0.25, "complexity_4": 0.25, "complexity_5": 0.5}
    mixture = build_mixture(action(xguard={"bucket_weights": weights}), POOLS,
                            MixSettings(budget=budget))
    manifest = mixture.manifest
    assert manifest.realised_tokens <= budget
    assert manifest.realised_tokens >= 0.99 * budget
    assert manifest.bucket_budgets["xguard"] == {b: int(w * 0.4 * budget)
                                                 for b, w in weights.items()}
    for name, ratio in {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}.items():
        assert abs(manifest.tokens_by_objective[name] - ratio * budget) <= MAX_ROW
    for bucket, planned in manifest.bucket_budgets["xguard"].items():
        assert abs(manifest.tokens_by_bucket["xguard"][bucket] - planned) <= MAX_ROW
    # the manifest's numbers are the rows' own
    table = POOLS["xguard"]
    rows = taken_rows(mixture, "xguard")
    assert int(table.tokens[rows].sum()) == manifest.tokens_by_objective["xguard"]
    assert sorted(table.ids[rows].tolist()) == sorted(manifest.row_ids["xguard"])
    assert set(table.slice_names[c] for c in table.slices[rows]) == set(weights)
    assert len(set(rows.tolist())) == len(rows)  # no repeats at repetition cap 1


def test_objectives_without_weights_are_sampled_as_the_pool_comes():
    manifest = build_mixture(action(), POOLS, MixSettings(budget=12_000)).manifest
    held = {b: int(POOLS["orbench"].tokens[POOLS["orbench"].slices == i].sum())
            for i, b in enumerate(POOLS["orbench"].slice_names)}
    total = sum(held.values())
    for bucket, planned in manifest.bucket_budgets["orbench"].items():
        assert abs(planned - held[bucket] / total * 0.3 * 12_000) <= 1


def test_focus_rows_fill_their_share_of_each_bucket_first():
    plan = {"bucket_weights": {"complexity_4": 1.0},
            "focus": {"include": {"category": ["cyber"]}}, "focus_share": 0.5}
    mixture = build_mixture(action(xguard=plan), POOLS, MixSettings(budget=10_000))
    table = POOLS["xguard"]
    rows = taken_rows(mixture, "xguard")
    cyber = [table.rows[r].attributes["category"] == "cyber" for r in rows]
    focus_tokens = int(table.tokens[rows[np.asarray(cyber)]].sum())
    assert focus_tokens == mixture.manifest.focus_tokens["xguard"]
    assert focus_tokens >= 0.5 * 4_000 - MAX_ROW
    available = [r for r in range(len(table)) if table.slices[r] == 3
                 and table.rows[r].attributes["category"] == "cyber"]
    share_in_pool = table.tokens[available].sum() / table.tokens[table.slices == 3].sum()
    assert focus_tokens / 4_000 > share_in_pool  # focus raised the share above the pool's


def test_focus_share_one_fills_the_bucket_with_focus_rows_but_for_the_last_gap():
    plan = {"bucket_weights": {"complexity_4": 1.0},
            "focus": {"include": {"category": ["cyber", "fraud"]}}, "focus_share": 1.0}
    mixture = build_mixture(action(xguard=plan), POOLS, MixSettings(budget=5_000))
    manifest = mixture.manifest
    assert manifest.focus_tokens["xguard"] >= 2_000 - MAX_ROW
    # other rows only fill what no remaining focus row fits into
    assert manifest.tokens_by_objective["xguard"] - manifest.focus_tokens["xguard"] < MAX_ROW


def test_excluded_rows_are_never_taken():
    plan = {"focus": {"exclude": {"category": ["weapons"], "slice": ["complexity_1"]}}}
    mixture = build_mixture(action(xguard=plan), POOLS, MixSettings(budget=12_000))
    table = POOLS["xguard"]
    for r in taken_rows(mixture, "xguard"):
        assert table.rows[r].attributes["category"] != "weapons"
        assert table.rows[r].slice != "complexity_1"


def test_quality_filter_leaves_low_rows_out():
    mixture = build_mixture(action(ratios={"xguard": 1.0}), POOLS,
                            MixSettings(budget=8_000, min_quality=4))
    table = POOLS["xguard"]
    assert (table.quality[taken_rows(mixture, "xguard")] >= 4).all()
    assert mixture.manifest.min_quality == 4


def test_a_buckets_remainder_goes_to_its_own_objectives_other_buckets_first():
    # complexity_5 rows are 390 tokens: of its 1,000-token budget it can use 780; the other
    # ifeval buckets have short rows and take the remaining 220 before any other objective.
    rows = [toy_row("ifeval", i, "complexity_5", 390) for i in range(10)]
    rows += [toy_row("ifeval", 100 + i, f"complexity_{1 + i % 4}", 20 + i % 7)
             for i in range(400)]
    pools = dict(POOLS, ifeval=pool_table(rows, objective="ifeval", token_count=TOKEN_COUNT))
    weights = {"complexity_5": 0.5, "complexity_4": 0.5}
    manifest = build_mixture(action(ratios={"xguard": 0.5, "orbench": 0.3, "ifeval": 0.2},
                                    ifeval={"bucket_weights": weights}),
                             pools, MixSettings(budget=10_000)).manifest
    assert manifest.tokens_by_bucket["ifeval"]["complexity_5"] == 780
    notes = {(r.objective, r.bucket): r.reason for r in manifest.redistributed}
    assert notes[("ifeval", "complexity_5")] == "gap"
    assert notes[("ifeval", "complexity_4")] == "received"
    assert manifest.tokens_by_bucket["ifeval"]["complexity_4"] >= 1_000 + 220 - 30
    assert manifest.tokens_by_objective["ifeval"] >= 2_000 - 30


def test_a_pool_too_small_for_its_share_is_refused_then_repaired_to_fill_the_budget():
    pools = dict(POOLS, orbench=toy_pool("orbench", 3))
    held = int(pools["orbench"].tokens.sum())
    budget = 3 * held * 4  # orbench's third of the budget is ~4x its pool
    asked = action(ratios={"xguard": 1 / 3, "orbench": 1 / 3, "ifeval": 1 / 3})
    with pytest.raises(ActionError, match="objective_too_small"):
        build_mixture(asked, pools, MixSettings(budget=budget))
    repaired = repair_action(asked, pools, MixSettings(budget=budget)).action
    assert abs(repaired.ratios["orbench"] - held / budget) < 1e-9
    manifest = build_mixture(repaired, pools, MixSettings(budget=budget)).manifest
    assert held - MAX_ROW <= manifest.tokens_by_objective["orbench"] <= held
    assert manifest.realised_tokens >= 0.99 * budget  # the others took orbench's share
    assert manifest.tokens_by_objective["xguard"] > budget / 3


def test_a_budget_beyond_every_pool_takes_every_row_and_reports_the_rest_unplaced():
    huge = build_mixture(action(), POOLS, MixSettings(budget=10**7)).manifest
    assert huge.realised_tokens == sum(int(t.tokens.sum()) for t in POOLS.values())
    assert {r.reason for r in huge.redistributed} == {"exhausted", "unplaced"}
    [unplaced] = [r for r in huge.redistributed if r.reason == "unplaced"]
    assert unplaced.planned == 10**7 - huge.realised_tokens


def test_repetition_cap_bounds_how_often_a_row_repeats():
    pools = {"orbench": toy_pool("orbench", 5)}
    held = int(pools["orbench"].tokens.sum())
    mixture = build_mixture(DataAction(ratios={"orbench": 1.0}), pools,
                            MixSettings(budget=int(held * 2.5), repetition_cap=3))
    counts = Counter(mixture.row_index.tolist())
    assert max(counts.values()) == 3 and min(counts.values()) >= 2
    assert mixture.manifest.realised_tokens >= 0.99 * held * 2.5


def test_an_invalid_action_is_refused_with_its_report():
    with pytest.raises(ActionError) as caught:
        build_mixture(action(ratios={"xguard": 0.7, "math": 0.3}), POOLS,
                      MixSettings(budget=1_000))
    assert caught.value.report.codes() >= {"unknown_objective"}
    assert "ratios.math" in str(caught.value)


def test_pools_counted_for_different_models_cannot_be_mixed():
    rows = [toy_row("orbench", i, "boundary_1", 100) for i in range(5)]
    other = pool_table(rows, objective="orbench", token_count="templated:another")
    with pytest.raises(ConfigError, match="different templates"):
        build_mixture(action(ratios={"xguard": 0.5, "orbench": 0.5}),
                      {"xguard": POOLS["xguard"], "orbench": other}, MixSettings(budget=500))


def test_written_mixture_has_one_chat_per_row_and_the_manifest_last(tmp_path):
    mixture = build_mixture(action(), POOLS, MixSettings(budget=6_000))
    path = write_mixture(mixture, POOLS, tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(mixture)
    assert lines[0]["messages"][1]["role"] == "assistant"
    order = [(line["objective"], line["id"]) for line in lines]
    assert Counter(o for o, _ in order) == {n: len(ids) for n, ids in
                                            mixture.manifest.row_ids.items()}
    manifest = MixtureManifest.model_validate_json((tmp_path / "manifest.json").read_text())
    assert manifest == mixture.manifest
    assert manifest.token_count == TOKEN_COUNT
    assert manifest.pool_fingerprints == {n: t.fingerprint for n, t in POOLS.items()}


def test_pool_files_are_recounted_unless_their_manifest_says_they_fit_the_model(
        tmp_path, tiny_tokenizer):
    from mosaic.data.pool_table import load_pool_table

    rows = [toy_row("orbench", i, "boundary_1", 999) for i in range(4)]
    path = tmp_path / "orbench_pool.jsonl"
    path.write_text("".join(row.model_dump_json() + "\n" for row in rows))
    with pytest.raises(ConfigError, match="recount"):
        load_pool_table(path, objective="orbench", token_count="templated:tiny")
    recounted = load_pool_table(path, objective="orbench", token_count="templated:tiny",
                                tokenizer=tiny_tokenizer)
    assert recounted.tokens.tolist() != [999] * 4 and (recounted.tokens > 0).all()
    (tmp_path / "manifest.json").write_text(json.dumps({"token_count": "templated:tiny"}))
    kept = load_pool_table(path, objective="orbench", token_count="templated:tiny",
                           tokenizer=tiny_tokenizer)
    assert kept.tokens.tolist() == [999] * 4
    assert kept.fingerprint != recounted.fingerprint


# ---------------------------------------------------------------------------------------
# Constraints hold in the built mixture, not only in the action


def test_redistribution_never_pushes_an_objective_past_its_max_share():
    from mosaic.schema import Constraint

    constraints = [Constraint(kind="max_share", objective="xguard", value=0.5)]
    # orbench gets one bucket whose rows are long: its gaps would flow to xguard
    asked = action(ratios={"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25},
                   orbench={"bucket_weights": {"boundary_1": 1.0}})
    budget = 3_000
    unconstrained = build_mixture(asked, POOLS, MixSettings(budget=budget)).manifest
    assert unconstrained.tokens_by_objective["xguard"] > 0.5 * budget  # the premise
    manifest = build_mixture(asked, POOLS, MixSettings(budget=budget), constraints).manifest
    assert manifest.tokens_by_objective["xguard"] <= 0.5 * budget
    assert manifest.realised_tokens >= 0.99 * budget  # the others took what xguard could not


def test_pinned_buckets_neither_give_nor_take_budget():
    from mosaic.schema import Constraint

    pin = Constraint(kind="pin_bucket", objective="ifeval", slice="complexity_1", value=0.0)
    as_it_comes = action()
    with pytest.raises(ActionError, match="constraint_pin_bucket"):
        build_mixture(as_it_comes, POOLS, MixSettings(budget=8_000), [pin])
    weights = {"complexity_1": 1e-9, "complexity_2": 0.5, "complexity_3": 0.5 - 1e-9}
    manifest = build_mixture(action(ifeval={"bucket_weights": weights}), POOLS,
                             MixSettings(budget=8_000), [pin]).manifest
    assert manifest.tokens_by_bucket["ifeval"].get("complexity_1", 0) == 0
    pinned = Constraint(kind="pin_bucket", objective="ifeval", slice="complexity_2", value=0.5)
    manifest = build_mixture(action(ifeval={"bucket_weights": weights}), POOLS,
                             MixSettings(budget=8_000), [pin, pinned]).manifest
    planned = manifest.bucket_budgets["ifeval"]["complexity_2"]
    assert planned - MAX_ROW <= manifest.tokens_by_bucket["ifeval"]["complexity_2"] <= planned


# ---------------------------------------------------------------------------------------
# Fill, determinism across processes, remembered selections, odd attribute values


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 0.9), st.floats(0.05, 0.9), st.integers(8_000, 40_000),
       st.integers(0, 10))
def test_realised_tokens_are_within_1_percent_when_the_pools_suffice(a, b, budget, seed):
    """Rows of 50-400 tokens; budgets from 8,000 (every bucket ~20 rows) up to what the pools
    hold comfortably."""
    total = a + b + 0.1
    asked = action(ratios={"xguard": a / total, "orbench": b / total, "ifeval": 0.1 / total})
    mix = MixSettings(budget=budget, seed=seed)
    from mosaic.tools.mixing.validate import validate_action

    assume(validate_action(asked, POOLS, mix).ok)
    manifest = build_mixture(asked, POOLS, mix).manifest
    assert 0.99 * budget <= manifest.realised_tokens <= budget


def test_the_same_mixture_in_another_process_with_another_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from mosaic.config import MixSettings\n"
        "from mosaic.tools.mixing.builder import build_mixture\n"
        "from tests.test_mixture import POOLS, action\n"
        "m = build_mixture(action(xguard={'focus': {'include': {'category': ['cyber']}}}),"
        " POOLS, MixSettings(budget=9000, seed=5))\n"
        "print(m.manifest.content_hash)\n")
    hashes = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=env, cwd=Path(__file__).resolve().parents[1], check=True)
        hashes.add(out.stdout.strip())
    here = build_mixture(action(xguard={"focus": {"include": {"category": ["cyber"]}}}), POOLS,
                         MixSettings(budget=9000, seed=5)).manifest.content_hash
    assert hashes == {here}


def test_remembered_selections_depend_on_everything_that_changes_them():
    import dataclasses

    from mosaic.tools.mixing.capacity import capacity

    table = toy_pool("xguard", 30)
    plan = ObjectivePlan(focus={"exclude": {"category": ["cyber"]}})
    low = capacity(table, plan, MixSettings(budget=1, min_quality=3))
    high = capacity(table, plan, MixSettings(budget=1, min_quality=5))
    twice = capacity(table, plan, MixSettings(budget=1, min_quality=3, repetition_cap=2))
    assert high.total() < low.total() and twice.total() == 2 * low.total()
    assert capacity(table, None, MixSettings(budget=1)).total() == int(table.tokens.sum())
    doubled = dataclasses.replace(table, tokens=table.tokens * 10)
    assert capacity(doubled, None, MixSettings(budget=1)).total() == int(doubled.tokens.sum())
    with pytest.raises(ValueError):
        table.tokens[0] = 1  # tables are read-only
    with pytest.raises(TypeError):
        low.buckets["complexity_1"] = 0  # so is what is remembered


def test_odd_attribute_values_only_affect_their_own_rows():
    from mosaic.data.pool_table import match_criteria
    from mosaic.objectives import get_objective

    values = [3, "3", 4.0, None, True, [2, 5], "high", 1]
    rows = [toy_row("xguard", i, "complexity_3", 100, pressure=v, category=v)
            for i, v in enumerate(values)]
    table = pool_table(rows, objective="xguard", token_count=TOKEN_COUNT)
    xguard = get_objective("xguard")

    def ids(criteria, mode="all"):
        return [int(i.rsplit("-", 1)[1]) for i in
                table.ids[match_criteria(table, xguard, criteria, mode=mode)]]

    assert ids({"pressure_range": [3, 4]}) == [0, 1, 2]  # numbers and numeric strings
    assert ids({"pressure_range": [5, 5]}) == [5]  # a list matches through any element
    assert ids({"category": [3]}) == [0, 1]
    assert ids({"category": ["high"]}) == [6]
    assert ids({"category": [1]}) == [4, 7]  # booleans match as 0 and 1
    assert ids({"category": ["cyber"]}, "any") == []

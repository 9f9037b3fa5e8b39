"""Repair: any parseable action becomes a valid one, valid ones are untouched, and repair
is idempotent. Property tests over arbitrary actions, budgets and satisfiable constraints."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mosaic.config import MixSettings
from mosaic.objectives import get_objective
from mosaic.schema import Constraint, DataAction
from mosaic.tools.mixing.builder import build_mixture
from mosaic.tools.mixing.capacity import capacity
from mosaic.tools.mixing.repair import fit_shares, repair_action
from mosaic.tools.mixing.validate import validate_action
from tests.toy_pools import toy_pools

POOLS = toy_pools(rows_per_slice=12)  # ~10-15k tokens per objective
NAMES = ("xguard", "orbench", "ifeval")

# Constraints that can all hold together on these pools (pick any subset).
SATISFIABLE = [
    Constraint(kind="min_share", objective="orbench", value=0.2, origin="reviewer"),
    Constraint(kind="max_share", objective="xguard", value=0.6),
    Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_1"),
    Constraint(kind="pin_bucket", objective="ifeval", slice="complexity_5", value=0.3),
    Constraint(kind="score_floor", objective="ifeval", value=3.5),
]

weights = st.floats(min_value=-1, max_value=3, allow_nan=False, allow_infinity=False)


def _focus_values(objective: str) -> st.SearchStrategy:
    keys = get_objective(objective).focus_keys
    return st.dictionaries(
        st.sampled_from([*keys, "not_a_key"]),
        st.lists(st.one_of(st.integers(-2, 70), st.sampled_from(
            ["P5_C5", "P3_C2", "cyber", "boundary_4", "complexity_3", "punctuation:no_comma",
             "keywords", "nonsense"])), max_size=3),
        max_size=3)


@st.composite
def plans(draw, objective: str):
    slices = [*get_objective(objective).slices, "complexity_9"]
    return {"bucket_weights": draw(st.dictionaries(st.sampled_from(slices), weights,
                                                   max_size=6)),
            "focus": {"include": draw(_focus_values(objective)),
                      "exclude": draw(_focus_values(objective))},
            "focus_share": draw(st.floats(-0.5, 1.5, allow_nan=False))}


@st.composite
def actions(draw) -> DataAction:
    ratios = draw(st.dictionaries(st.sampled_from([*NAMES, "math"]), weights, max_size=4))
    chosen = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3))
    return DataAction.model_validate({"ratios": ratios,
                                      "objectives": {n: draw(plans(n)) for n in chosen}})


budgets = st.sampled_from([3_000, 12_000, 30_000, 200_000])
constraint_sets = st.lists(st.sampled_from(SATISFIABLE), unique_by=lambda c: c.kind, max_size=5)


@st.composite
def random_constraints(draw) -> list[Constraint]:
    """Any mix of Constraints, several of a kind, with drawn values (possibly contradictory:
    tests keep only the satisfiable sets)."""
    found = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["min_share", "max_share", "pin_bucket", "forbid_bucket"]))
        objective = draw(st.sampled_from(NAMES))
        slice_ = draw(st.sampled_from(get_objective(objective).slices))
        value = draw(st.floats(0, 0.7, allow_nan=False))
        found.append(Constraint(kind=kind, objective=objective,
                                slice=slice_ if kind.endswith("bucket") else None,
                                value=None if kind == "forbid_bucket" else round(value, 3)))
    return found


def satisfiable(constraints, mix) -> bool:
    report = validate_action(DataAction(ratios={"xguard": 1.0}), POOLS, mix, constraints)
    return "constraints_infeasible" not in report.codes()
caps = st.sampled_from([1, 1, 2])
EXAMPLES = int(os.environ.get("MOSAIC_PROPERTY_EXAMPLES", "150"))
"""Examples per property test; raise it for a longer hunt (MOSAIC_PROPERTY_EXAMPLES=3000)."""
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@PROPERTY
@given(actions(), budgets, constraint_sets, caps)
def test_repair_of_any_parseable_action_validates(action, budget, constraints, cap):
    mix = MixSettings(budget=budget, repetition_cap=cap)
    assume(satisfiable(constraints, mix))  # e.g. orbench >= 0.2 of 200,000 tokens is not
    repaired = repair_action(action, POOLS, mix, constraints)
    assert repaired.report.ok, (action, repaired.report.describe())
    assert validate_action(repaired.action, POOLS, mix, constraints).ok
    # and what it says it changed is what changed
    assert repaired.changed == (repaired.action != action)


@PROPERTY
@given(actions(), budgets, constraint_sets, caps)
def test_repair_is_idempotent_and_leaves_valid_actions_unchanged(action, budget, constraints,
                                                                 cap):
    mix = MixSettings(budget=budget, repetition_cap=cap)
    assume(satisfiable(constraints, mix))
    once = repair_action(action, POOLS, mix, constraints)
    twice = repair_action(once.action, POOLS, mix, constraints)
    assert twice.action == once.action
    assert twice.changes == []


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(actions(), budgets, constraint_sets)
def test_a_repaired_action_builds_within_budget_and_keeps_the_constraints(action, budget,
                                                                          constraints):
    mix = MixSettings(budget=budget)
    assume(satisfiable(constraints, mix))
    repaired = repair_action(action, POOLS, mix, constraints).action
    manifest = build_mixture(repaired, POOLS, mix, constraints).manifest
    assert manifest.realised_tokens <= budget
    for c in constraints:
        if c.kind == "forbid_bucket":
            assert manifest.tokens_by_bucket[c.objective].get(c.slice, 0) == 0


def test_repair_keeps_proportions_and_lists_each_edit():
    action = DataAction(ratios={"xguard": 2.0, "orbench": 1.0, "ifeval": -1.0, "math": 1.0})
    repaired = repair_action(action, POOLS, MixSettings(budget=9_000))
    assert repaired.action.ratios == {"xguard": 2 / 3, "orbench": 1 / 3, "ifeval": 0.0}
    edits = {(c.path, c.before, c.after) for c in repaired.changes}
    assert {("ratios.ifeval", -1.0, 0.0), ("ratios.math", 1.0, None)} <= edits
    assert ("ratios.xguard", 2.0, round(2 / 3, 6)) in edits
    assert {c.reason for c in repaired.changes if c.path == "ratios.xguard"} == {
        "scaled with the others so they sum to 1"}


def test_a_share_beyond_a_bucket_moves_to_the_buckets_that_had_weight():
    held = capacity(POOLS["xguard"], None, MixSettings(budget=1)).buckets
    xguard_tokens = 0.95 * (held["complexity_4"] + held["complexity_5"])
    weights = {"complexity_5": 0.8, "complexity_4": 0.2, "complexity_1": 0.0}
    assert 0.8 * xguard_tokens > held["complexity_5"]  # the premise: complexity_5 is short
    action = DataAction.model_validate({
        "ratios": {"xguard": 1 / 3, "orbench": 1 / 3, "ifeval": 1 / 3},
        "objectives": {"xguard": {"bucket_weights": weights}}})
    repaired = repair_action(action, POOLS, MixSettings(budget=round(3 * xguard_tokens)))
    got = repaired.action.objectives["xguard"].bucket_weights
    assert repaired.report.ok, repaired.report.describe()
    assert got["complexity_1"] == 0.0  # the action gave it nothing, and complexity_4 had room
    assert abs(got["complexity_5"] * xguard_tokens - held["complexity_5"]) < 2
    assert abs(got["complexity_4"] + got["complexity_5"] - 1) < 1e-9
    assert [c.path for c in repaired.changes] == [
        "objectives.xguard.bucket_weights.complexity_4",
        "objectives.xguard.bucket_weights.complexity_5"]
    assert all(c.reason.startswith("moved to fit") for c in repaired.changes)


def test_fit_shares_respects_bounds_and_reports_infeasible_ones():
    got = fit_shares({"a": 0.7, "b": 0.2, "c": 0.1}, {"a": 0, "b": 0.3, "c": 0},
                     {"a": 0.5, "b": 1, "c": 1})
    assert abs(sum(got.values()) - 1) < 1e-12
    assert got["a"] == 0.5 and got["b"] >= 0.3
    assert abs(got["b"] / got["c"] - 2) < 1e-9 or got["b"] == 0.3
    assert fit_shares({"a": 1}, {"a": 0}, {"a": 0.5}) is None
    assert fit_shares({"a": 1, "b": 1}, {"a": 0.6, "b": 0}, {"a": 0.5, "b": 1}) is None
    assert fit_shares({"a": 0.0, "b": 0.0}, {"a": 0, "b": 0}, {"a": 1, "b": 1}) == {
        "a": 0.5, "b": 0.5}


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(actions(), budgets, random_constraints(), caps)
def test_repair_validates_under_any_satisfiable_set_of_constraints(action, budget, constraints,
                                                                   cap):
    mix = MixSettings(budget=budget, repetition_cap=cap)
    assume(satisfiable(constraints, mix))
    repaired = repair_action(action, POOLS, mix, constraints)
    assert repaired.report.ok, (constraints, repaired.report.describe())
    assert repair_action(repaired.action, POOLS, mix, constraints).changes == []


def test_contradictions_with_the_pools_are_named_and_repair_says_it_gave_up():
    held = capacity(POOLS["orbench"], None, MixSettings(budget=1)).total()
    budget = 30_000  # all pools together hold more; orbench alone holds ~1/3 of it
    constraints = [Constraint(kind="min_share", objective="orbench", value=0.6)]
    mix = MixSettings(budget=budget)
    assert held < 0.6 * budget
    assert not satisfiable(constraints, mix)
    report = validate_action(DataAction(ratios={"orbench": 1.0}), POOLS, mix, constraints)
    assert ("orbench: minimum share 0.6 of the 30,000-token budget needs 18,000 tokens"
            in report.describe())
    both = [Constraint(kind="max_share", objective=n, value=0.2) for n in NAMES]
    repaired = repair_action(DataAction(ratios={"xguard": 1.0}), POOLS, mix, both)
    assert not repaired.report.ok
    assert any("contradict" in c.reason for c in repaired.changes)
    assert abs(sum(repaired.action.ratios.values()) - 1) < 1e-9


def test_fit_shares_copes_with_huge_targets():
    got = fit_shares({"a": 1e308, "b": 1e308}, {"a": 0, "b": 0}, {"a": 1, "b": 1})
    assert got == {"a": 0.5, "b": 0.5}


def test_fit_shares_survives_a_subnormal_target():
    got = fit_shares({"a": 1.0, "b": 1.0, "c": 5e-324}, dict.fromkeys("abc", 0.0),
                     {"a": 0.4, "b": 0.4, "c": 1.0})
    assert abs(sum(got.values()) - 1) < 1e-9 and abs(got["c"] - 0.2) < 1e-9


def test_an_objective_whose_buckets_are_all_closed_has_no_share():
    shut = [Constraint(kind="forbid_bucket", objective="orbench", slice=s)
            for s in get_objective("orbench").slices]
    caps_ = [Constraint(kind="max_share", objective=n, value=0.4) for n in ("xguard", "ifeval")]
    mix = MixSettings(budget=12_000)
    assert not satisfiable(shut + caps_, mix)  # 0.4 + 0 + 0.4 < 1
    repaired = repair_action(DataAction(ratios={"orbench": 1.0}), POOLS, mix, shut)
    assert repaired.report.ok and repaired.action.ratios["orbench"] == 0.0

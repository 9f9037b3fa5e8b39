"""Validation of DataActions: every problem at once, each with a stable code and a path."""

from __future__ import annotations

import numpy as np
import pytest

from mosaic.config import MixSettings
from mosaic.data.pool_table import match_criteria, pool_table
from mosaic.objectives import get_objective
from mosaic.schema import Constraint, DataAction, ObjectivePlan
from mosaic.tools.mixing.capacity import capacity
from mosaic.tools.mixing.validate import parse_action, validate_action
from tests.toy_pools import TOKEN_COUNT, toy_pools, toy_row

POOLS = toy_pools()
SETTINGS = MixSettings(budget=30_000)


def check(action: dict, *, settings: MixSettings = SETTINGS, constraints=(), pools=POOLS):
    return validate_action(DataAction.model_validate(action), pools, settings, constraints)


def paths(report, code):
    return [p.path for p in report.problems if p.code == code]


def test_a_plain_valid_action_has_no_errors():
    report = check({"ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}})
    assert report.ok, report.describe()
    assert report.errors == []


def test_every_structural_problem_is_listed_at_once_with_its_path():
    report = check({
        "ratios": {"xguard": -0.2, "orbench": 0.9, "ifeval": 0.5, "math": 0.1},
        "objectives": {
            "xguard": {"bucket_weights": {"complexity_9": 0.5, "complexity_2": -0.1,
                                          "complexity_3": 0.2},
                       "focus": {"include": {"pressure_range": [4, 2], "mood": ["sad"]},
                                 "exclude": {"pc_patterns": ["P9_C9"]}},
                       "focus_share": 1.5},
            "ifeval": {"bucket_weights": {"complexity_1": 0.0},
                       "focus": {"include": {"instruction_ids": []}}},
            "math": {"bucket_weights": {"easy": 1.0}},
        },
    })
    assert not report.ok
    assert paths(report, "unknown_objective") == ["ratios.math", "objectives.math"]
    assert paths(report, "negative_ratio") == ["ratios.xguard"]
    assert paths(report, "ratios_sum") == ["ratios"]
    assert paths(report, "unknown_slice") == ["objectives.xguard.bucket_weights.complexity_9"]
    assert paths(report, "negative_weight") == ["objectives.xguard.bucket_weights.complexity_2"]
    assert paths(report, "weights_sum") == ["objectives.xguard.bucket_weights"]
    assert paths(report, "weights_zero") == ["objectives.ifeval.bucket_weights"]
    assert paths(report, "focus_range") == ["objectives.xguard.focus.include.pressure_range"]
    assert paths(report, "unknown_focus_key") == ["objectives.xguard.focus.include.mood"]
    assert sorted(paths(report, "focus_value")) == [
        "objectives.ifeval.focus.include.instruction_ids",
        "objectives.xguard.focus.exclude.pc_patterns"]
    assert paths(report, "focus_share") == ["objectives.xguard.focus_share"]
    for problem in report.problems:
        assert problem.message and problem.code in problem_codes()


def problem_codes() -> set[str]:
    from mosaic.tools.mixing.validate import PROBLEM_CODES

    return set(PROBLEM_CODES)


def test_ratios_all_zero_and_range_outside_its_domain():
    report = check({"ratios": {"xguard": 0.0},
                    "objectives": {"xguard": {"focus": {"include": {"turns_range": [0, 99]}}}}})
    assert report.codes() >= {"ratios_zero", "focus_range"}


def test_a_bucket_with_too_few_tokens_for_its_share_is_named():
    bucket = int(capacity(POOLS["xguard"], None, SETTINGS).buckets["complexity_5"])
    share = 0.5  # xguard gets 15,000 tokens, all asked of one bucket that holds ~9,000
    report = check({"ratios": {"xguard": share, "orbench": 0.25, "ifeval": 0.25},
                    "objectives": {"xguard": {"bucket_weights": {"complexity_5": 1.0}}}})
    [problem] = [p for p in report.problems if p.code == "bucket_too_small"]
    assert problem.path == "objectives.xguard.bucket_weights.complexity_5"
    assert f"{bucket:,}" in problem.message and "15,000" in problem.message


def test_with_a_repetition_cap_the_shortfall_is_reported_as_repetition_above_cap():
    settings = MixSettings(budget=30_000, repetition_cap=2)
    ok = check({"ratios": {"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25},
                "objectives": {"xguard": {"bucket_weights": {"complexity_5": 1.0}}}},
               settings=settings)
    assert ok.ok, ok.describe()  # 15,000 <= 2 x ~9,000
    too_much = check({"ratios": {"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25},
                      "objectives": {"xguard": {"bucket_weights": {"complexity_5": 1.0}}}},
                     settings=MixSettings(budget=60_000, repetition_cap=2))
    assert "repetition_above_cap" in too_much.codes()


def test_an_objective_sampled_as_it_comes_is_checked_as_a_whole():
    report = check({"ratios": {"xguard": 1.0}}, settings=MixSettings(budget=80_000))
    assert "objective_too_small" in report.codes()


def test_pools_smaller_than_the_budget_are_a_warning_and_shares_are_judged_on_what_they_hold():
    report = check({"ratios": {"xguard": 0.35, "orbench": 0.3, "ifeval": 0.35}},
                   settings=MixSettings(budget=10_000_000))
    assert report.ok, report.describe()
    assert [p.severity for p in report.problems if p.code == "budget_exceeds_pools"] == [
        "warning"]
    # xguard's 35% of what all pools hold is more than the xguard pool: said, not refused
    assert {p.severity for p in report.problems if p.code == "objective_too_small"} == {
        "warning"}


def test_an_include_matching_nothing_is_an_error_and_a_thin_one_a_warning():
    empty = check({"ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3},
                   "objectives": {"xguard": {"bucket_weights": {"complexity_1": 1.0},
                                             "focus": {"include": {"pressure_range": [5, 5]}}}}})
    assert paths(empty, "focus_empty") == ["objectives.xguard.focus.include"]
    thin = check({"ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3},
                  "objectives": {"xguard": {"focus": {"include": {"pressure_range": [5, 5]}},
                                            "focus_share": 0.9}}})
    assert thin.ok and "focus_too_small" in thin.codes()


def test_each_kind_of_constraint_is_enforced():
    constraints = [
        Constraint(kind="min_share", objective="orbench", value=0.35, origin="chat"),
        Constraint(kind="max_share", objective="xguard", value=0.3),
        Constraint(kind="pin_bucket", objective="ifeval", slice="complexity_5", value=0.4),
        Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_1"),
        Constraint(kind="score_floor", objective="ifeval", value=3.5),  # judged on results
    ]
    report = check({"ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3},
                    "objectives": {"ifeval": {"bucket_weights": {"complexity_5": 0.2,
                                                                 "complexity_4": 0.8}}}},
                   constraints=constraints)
    assert paths(report, "constraint_min_share") == ["ratios.orbench"]
    assert paths(report, "constraint_max_share") == ["ratios.xguard"]
    assert paths(report, "constraint_pin_bucket") == [
        "objectives.ifeval.bucket_weights.complexity_5"]
    # xguard is sampled as it comes, which would use its forbidden bucket
    assert paths(report, "constraint_forbid_bucket") == [
        "objectives.xguard.bucket_weights.complexity_1"]
    assert "set by chat" in next(p.message for p in report.problems
                                 if p.code == "constraint_min_share")
    fixed = check({"ratios": {"xguard": 0.3, "orbench": 0.35, "ifeval": 0.35},
                   "objectives": {
                       "ifeval": {"bucket_weights": {"complexity_5": 0.4, "complexity_4": 0.6}},
                       "xguard": {"bucket_weights": {"complexity_1": 0.0, "complexity_2": 0.5,
                                                     "complexity_3": 0.5}}}},
                  constraints=constraints)
    assert fixed.ok, fixed.describe()


def test_contradictory_or_unknown_constraints_are_reported_as_such():
    report = check({"ratios": {"xguard": 1.0}}, constraints=[
        Constraint(kind="min_share", objective="orbench", value=0.7),
        Constraint(kind="min_share", objective="ifeval", value=0.5),
        Constraint(kind="pin_bucket", objective="xguard", slice="complexity_2", value=0.5),
        Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_2"),
        Constraint(kind="forbid_bucket", objective="math", slice="easy"),
    ])
    assert len(paths(report, "constraints_infeasible")) == 2
    assert paths(report, "constraint_unknown") == ["constraints[4]"]


def test_unlabelled_and_low_quality_rows_are_warnings():
    rows = [toy_row("orbench", 0, None, 100), toy_row("orbench", 1, "boundary_1", 100),
            toy_row("orbench", 2, "boundary_2", 100, quality=2.0),
            toy_row("orbench", 3, "boundary_3", 100, quality=None)]
    pools = {"orbench": pool_table(rows, objective="orbench", token_count=TOKEN_COUNT)}
    report = check({"ratios": {"orbench": 1.0}}, pools=pools,
                   settings=MixSettings(budget=100, min_quality=4))
    assert report.ok, report.describe()
    messages = {p.code: p.message for p in report.warnings}
    assert messages["unlabelled_rows"].startswith("1 of 4 rows")
    assert messages["quality_filtered"].startswith("2 rows")


def test_parse_action_names_what_is_malformed():
    action, report = parse_action('{"ratios": {"xguard": 1.0}')
    assert action is None and report.codes() == {"malformed"}
    assert "not valid JSON" in report.problems[0].message
    action, report = parse_action({"ratios": {"xguard": "lots"}, "extra": 1})
    assert action is None
    assert {p.path for p in report.problems} == {"ratios.xguard", "extra"}
    action, report = parse_action(b'{"ratios": {"xguard": 1.0}}')
    assert action is not None and report.ok


# ---------------------------------------------------------------------------------------
# Focus matching semantics


def matched(objective: str, criteria: dict, mode: str) -> set[str]:
    table = POOLS[objective]
    mask = match_criteria(table, get_objective(objective), criteria, mode=mode)
    return set(table.ids[mask].tolist())


def rows_where(objective: str, predicate) -> set[str]:
    table = POOLS[objective]
    return {row.id for row in table.rows if predicate(row)}


def test_include_is_or_within_a_key_and_and_across_keys():
    got = matched("xguard", {"pc_patterns": ["P3_C3", "P4_C2"], "category": ["cyber"]}, "all")
    want = rows_where("xguard", lambda r: r.attributes["pc_pattern"] in ("P3_C3", "P4_C2")
                      and r.attributes["category"] == "cyber")
    assert got == want and got


def test_exclude_removes_a_row_matching_any_key():
    got = matched("xguard", {"slice": ["complexity_1"], "category": ["fraud"]}, "any")
    want = rows_where("xguard", lambda r: r.slice == "complexity_1"
                      or r.attributes["category"] == "fraud")
    assert got == want and len(got) < len(POOLS["xguard"])


def test_range_keys_are_inclusive_and_list_attributes_match_any_element():
    assert matched("xguard", {"pressure_range": [2, 3]}, "all") == rows_where(
        "xguard", lambda r: 2 <= r.attributes["pressure"] <= 3)
    assert matched("ifeval", {"instruction_ids": ["punctuation:no_comma"]}, "all") == rows_where(
        "ifeval", lambda r: "punctuation:no_comma" in r.attributes["instruction_ids"])
    assert matched("orbench", {"hard": [1]}, "all") == rows_where(
        "orbench", lambda r: r.slice == "boundary_4")


@pytest.mark.parametrize("mode", ["all", "any"])
def test_no_criteria_match_no_row(mode):
    table = POOLS["orbench"]
    assert not np.any(match_criteria(table, get_objective("orbench"), {}, mode=mode))


def test_exclude_lowers_capacity_and_can_make_a_bucket_too_small():
    plan = ObjectivePlan(bucket_weights={"boundary_1": 1.0},
                         focus={"exclude": {"category": ["medical", "technology"]}})
    assert capacity(POOLS["orbench"], plan, SETTINGS).buckets["boundary_1"] == 0
    report = check({"ratios": {"orbench": 1.0}, "objectives": {"orbench": plan.model_dump()}})
    assert "bucket_too_small" in report.codes()


def test_focus_capacity_counts_each_row_once_whatever_the_repetition_cap():
    plan = ObjectivePlan(focus={"include": {"category": ["cyber"]}})
    once = capacity(POOLS["xguard"], plan, MixSettings(budget=1))
    thrice = capacity(POOLS["xguard"], plan, MixSettings(budget=1, repetition_cap=3))
    assert dict(thrice.focus) == dict(once.focus)  # the focus phase takes a row once
    assert thrice.total() == 3 * once.total()

"""The offline analyst: need-driven, step-limited, deterministic, always valid."""

from __future__ import annotations

from mosaic.agents.analyst import analyse, slice_needs
from mosaic.config import MixSettings
from mosaic.objectives import get_objective
from mosaic.schema import Constraint, DataAction, JudgedSample, PromptChannel, ResponseChannel
from mosaic.tools.validate import validate_action
from tests.toy_pools import toy_pools

POOLS = toy_pools(rows_per_slice=40)
MIX = MixSettings(budget=12_000)


def judged(objective: str, scores: dict[str, list[float]]) -> list[JudgedSample]:
    out = []
    for slice_, values in scores.items():
        weight = int(slice_.rsplit("_", 1)[1])
        for i, score in enumerate(values):
            out.append(JudgedSample(id=f"{objective}-{slice_}-{i}", objective=objective,
                                    prompt=PromptChannel(slice=slice_, weight=weight),
                                    response=ResponseChannel(score=score)))
    return out


def samples(xguard_low: float = 1.0) -> dict[str, list[JudgedSample]]:
    return {
        "xguard": judged("xguard", {s: [xguard_low if s == "complexity_5" else 4.0] * 4
                                    for s in get_objective("xguard").slices}),
        "orbench": judged("orbench", {s: [5.0] * 4 for s in get_objective("orbench").slices}),
        "ifeval": judged("ifeval", {s: [4.0] * 4 for s in get_objective("ifeval").slices}),
    }


def test_need_is_the_reference_formula_summed_per_slice():
    needs = slice_needs(samples())
    assert needs["xguard"]["complexity_5"] == 4 * (6 - 1.0) * 5
    assert needs["orbench"]["boundary_2"] == 4 * (6 - 5.0) * 2


def test_the_neediest_objective_and_slice_get_the_largest_shares():
    action = analyse(samples(), POOLS, MIX)
    assert validate_action(action, POOLS, MIX).ok
    assert max(action.ratios, key=action.ratios.get) == "xguard"
    weights = action.objectives["xguard"].bucket_weights
    assert max(weights, key=weights.get) == "complexity_5"
    assert action.evidence[0].slice == "complexity_5" and "need" in action.rationale
    assert analyse(samples(), POOLS, MIX) == action  # deterministic


def test_one_round_moves_each_share_by_at_most_the_step():
    previous = DataAction(ratios={"xguard": 0.2, "orbench": 0.4, "ifeval": 0.4})
    action = analyse(samples(), POOLS, MIX, previous=previous, max_step=0.1)
    for name, ratio in previous.ratios.items():
        assert abs(action.ratios[name] - ratio) <= 0.1 + 1e-9


def test_the_analyst_never_breaks_a_constraint():
    constraints = [Constraint(kind="min_share", objective="orbench", value=0.3, origin="chat"),
                   Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_5")]
    action = analyse(samples(), POOLS, MIX, constraints)
    assert validate_action(action, POOLS, MIX, constraints).ok
    assert action.ratios["orbench"] >= 0.3 - 1e-9
    assert action.objectives["xguard"].bucket_weights.get("complexity_5", 0.0) == 0.0

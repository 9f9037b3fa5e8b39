"""The offline analyst: need-driven, step-limited, deterministic, always valid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic.agents.analyst import analyse, slice_needs
from mosaic.config import MixSettings
from mosaic.objectives import get_objective
from mosaic.schema import Constraint, DataAction, JudgedSample, PromptChannel, ResponseChannel
from mosaic.tools.mixing.validate import validate_action
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
    action = analyse(samples(), POOLS, MIX, previous=previous, step=0.1)
    for name, ratio in previous.ratios.items():
        assert abs(action.ratios[name] - ratio) <= 0.1 + 1e-9


def test_the_analyst_never_breaks_a_constraint():
    constraints = [Constraint(kind="min_share", objective="orbench", value=0.3, origin="chat"),
                   Constraint(kind="forbid_bucket", objective="xguard", slice="complexity_5")]
    action = analyse(samples(), POOLS, MIX, constraints)
    assert validate_action(action, POOLS, MIX, constraints).ok
    assert action.ratios["orbench"] >= 0.3 - 1e-9
    assert action.objectives["xguard"].bucket_weights.get("complexity_5", 0.0) == 0.0


def records_with(anchor_action, hypervolumes):
    """An archive whose round 1 (with `anchor_action`) is the clear best, then worse rounds
    (with the given hypervolumes) tried after it."""
    from mosaic.schema import RoundRecord

    objectives = ("xguard", "orbench", "ifeval")
    base = RoundRecord(round=0, means=dict.fromkeys(objectives, 2.0),
                       ci={o: (1.9, 2.1) for o in objectives}, hypervolume=1.0)
    best = RoundRecord(round=1, action=anchor_action, means=dict.fromkeys(objectives, 4.0),
                       ci={o: (3.9, 4.1) for o in objectives}, hypervolume=27.0)
    later = [RoundRecord(round=2 + i, action=anchor_action,
                         means=dict.fromkeys(objectives, 3.0),
                         ci={o: (2.9, 3.1) for o in objectives}, hypervolume=value)
             for i, value in enumerate(hypervolumes)]
    return [base, best, *later]


def test_next_action_anchors_on_the_recommended_round_and_halves_its_step_per_round_tried():
    from mosaic.agents.analyst import next_action

    anchor = DataAction(ratios={"xguard": 0.2, "orbench": 0.4, "ifeval": 0.4})
    seen = []

    def samples_of(round_number):
        seen.append(round_number)
        return samples()

    fresh = next_action(records_with(anchor, []), samples_of, POOLS, MIX, step=0.2)
    stalled = next_action(records_with(anchor, [27.0, 27.0]), samples_of, POOLS, MIX,
                          step=0.2)
    assert seen == [1, 1]  # the recommended round's samples, not the latest round's
    moved = max(abs(fresh.ratios[n] - anchor.ratios[n]) for n in anchor.ratios)
    moved_stalled = max(abs(stalled.ratios[n] - anchor.ratios[n]) for n in anchor.ratios)
    assert abs(moved - 0.2) < 1e-6 and abs(moved_stalled - 0.05) < 1e-6
    assert "round 1, the best round so far" in fresh.rationale
    assert "2 round(s) tried since it" in stalled.rationale


def test_next_action_from_the_base_model_starts_from_equal_ratios():
    from mosaic.agents.analyst import next_action, starting_action
    from mosaic.schema import RoundRecord

    base = RoundRecord(round=0, means=dict.fromkeys(("xguard", "orbench", "ifeval"), 2.0),
                       hypervolume=1.0)
    start = starting_action(POOLS, MIX)
    assert validate_action(start, POOLS, MIX).ok
    assert all(abs(r - 1 / 3) < 1e-9 for r in start.ratios.values())
    action = next_action([base], lambda _: samples(), POOLS, MIX, step=0.1)
    assert all(abs(action.ratios[n] - 1 / 3) <= 0.1 + 1e-6 for n in action.ratios)
    assert action.ratios["xguard"] > 1 / 3  # towards the neediest objective
    assert validate_action(action, POOLS, MIX).ok


def test_next_action_never_proposes_an_action_the_archive_already_holds():
    """Even with a step so large that the target is reached at once (where halving the
    cap alone would change nothing), every round from the same anchor is a new action."""
    from mosaic.agents.analyst import next_action
    from mosaic.schema import RoundRecord
    from mosaic.tools.mixing.builder import action_hash

    objectives = ("xguard", "orbench", "ifeval")
    records = [RoundRecord(round=0, means=dict.fromkeys(objectives, 3.0),
                           ci={o: (2.9, 3.1) for o in objectives}, hypervolume=8.0)]
    hashes = []
    for number in range(1, 5):
        action = next_action(records, lambda _: samples(), POOLS, MIX, step=1.0)
        assert validate_action(action, POOLS, MIX).ok
        hashes.append(action_hash(action))
        records.append(RoundRecord(round=number, action=action,  # clearly worse: base stays
                                   means=dict.fromkeys(objectives, 2.0),
                                   ci={o: (1.9, 2.1) for o in objectives}, hypervolume=8.0))
    assert len(set(hashes)) == 4


def test_with_every_round_below_a_floor_the_anchor_is_the_closest_miss():
    from mosaic.agents.analyst import anchor_round
    from mosaic.schema import RoundRecord

    floor = [Constraint(kind="score_floor", objective="ifeval", value=4.0)]
    rounds = [RoundRecord(round=n, means={"ifeval": m}, breaches=["below"])
              for n, m in enumerate([3.0, 3.5, 3.2])]
    assert anchor_round(rounds, ["ifeval"], floor).round == 1


def item_record(number, action, per_objective):
    """A round record with item scores (items i0, i1, ...), as the loop writes them."""
    from mosaic.schema import RoundRecord
    from mosaic.stats import mean_interval

    return RoundRecord(round=number, action=action,
                       means={o: sum(v) / len(v) for o, v in per_objective.items()},
                       ci={o: mean_interval(v) for o, v in per_objective.items()},
                       item_scores={o: {f"i{i}": x for i, x in enumerate(v)}
                                    for o, v in per_objective.items()})


def test_an_objective_a_tried_round_lost_beyond_noise_gets_more_share_next():
    """Round 1 cut orbench to 0.18 and lost it on every item against the base model: the
    base model stays the anchor (a round that loses to it is not recommended) and the next
    action gives orbench at least the step more than the starting mixture's third, although
    orbench has the least need (the base model scores it 5.0)."""
    from mosaic.agents.analyst import next_action, protected_shares, starting_action

    spread = [2.0, 3.0, 2.5, 3.5] * 3
    base = item_record(0, None, {"xguard": spread, "orbench": [5.0] * 12, "ifeval": spread})
    cut = DataAction(ratios={"xguard": 0.36, "orbench": 0.18, "ifeval": 0.46})
    broke = item_record(1, cut, {"xguard": [x + 1 for x in spread], "orbench": [3.0] * 12,
                                 "ifeval": [x + 1 for x in spread]})
    start = starting_action(POOLS, MIX)
    floors = protected_shares([base, broke], base, start, ["xguard", "orbench", "ifeval"], 0.15)
    assert floors == {"orbench": pytest.approx(1 / 3 + 0.15)}
    action = next_action([base, broke], lambda _: samples(), POOLS, MIX, step=0.15)
    assert validate_action(action, POOLS, MIX).ok
    assert action.ratios["orbench"] >= 1 / 3 + 0.15 - 1e-6
    assert "orbench share 0.48 (floor 0.48)" in action.rationale
    # A round that ties the anchor, or one before it, protects nothing.
    tie = item_record(2, cut, {"xguard": spread, "orbench": [5.0] * 12, "ifeval": spread})
    assert protected_shares([base, tie], base, start, ["xguard", "orbench", "ifeval"]) == {}
    assert protected_shares([base, broke, tie], tie, cut, ["xguard", "orbench", "ifeval"]) == {}
    # Two rounds that lost it: still one step above the anchor's share (no ratchet).
    again = item_record(2, DataAction(ratios={"xguard": 0.2, "orbench": 0.6, "ifeval": 0.2}),
                        {"xguard": spread, "orbench": [3.0] * 12, "ifeval": spread})
    assert protected_shares([base, broke, again], base, start,
                            ["xguard", "orbench", "ifeval"], 0.15) == floors
    # Without the lost round nothing is protected and orbench (least need) loses share.
    plain = next_action([base], lambda _: samples(), POOLS, MIX, step=0.15)
    assert plain.ratios["orbench"] < 1 / 3 and "Protected" not in plain.rationale


@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda v: sum(v) > 0),
       st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(0.0, 0.9), max_size=3))
def test_lifting_shares_to_floors_keeps_a_distribution_that_meets_them(raw, floors):
    from mosaic.agents.analyst import _lift

    shares = {n: v / sum(raw) for n, v in zip("abc", raw, strict=True)}
    lifted = _lift(shares, floors)
    assert abs(sum(lifted.values()) - 1) < 1e-9 and min(lifted.values()) >= -1e-12
    scale = max(1.0, sum(floors.values()))
    assert all(lifted[n] >= f / scale - 1e-9 for n, f in floors.items())
    assert _lift({"a": 0.5, "b": 0.5}, {"z": 0.9, "a": 0.6})["a"] == pytest.approx(0.6)

"""The archive's front: noise-aware acceptance, exact hypervolume, a recommended round."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mosaic.schema import RoundRecord
from mosaic.tools.evaluation.pareto import (
    archive_summary,
    clearly_dominates,
    front,
    hypervolume,
    recommend,
)

OBJ = ("xguard", "orbench", "ifeval")


def rec(n, means, width=0.1):
    return RoundRecord(round=n, means=dict(zip(OBJ, means, strict=True)),
                       ci={o: (m - width, m + width) for o, m in zip(OBJ, means, strict=True)})


def test_a_round_better_only_within_noise_does_not_push_another_off_the_front():
    base, close = rec(0, [3.0, 4.0, 3.0], width=0.3), rec(1, [3.2, 4.0, 3.0], width=0.3)
    assert not clearly_dominates(close, base, OBJ)
    assert [r.round for r in front([base, close], OBJ)] == [0, 1]
    far = rec(2, [4.0, 4.0, 3.0], width=0.3)
    assert clearly_dominates(far, base, OBJ)
    assert [r.round for r in front([base, close, far], OBJ)] == [2]


def scored(n, per_objective: dict[str, list[float]]) -> RoundRecord:
    """A record with item scores (items i0, i1, ...) and its unpaired intervals."""
    from mosaic.stats import mean_interval

    means = {o: sum(v) / len(v) for o, v in per_objective.items()}
    return RoundRecord(round=n, means=means,
                       ci={o: mean_interval(v) for o, v in per_objective.items()},
                       item_scores={o: {f"i{i}": x for i, x in enumerate(v)}
                                    for o, v in per_objective.items()})


def test_dominance_is_judged_item_by_item_where_records_keep_item_scores():
    """The round is one point better on every ifeval item of very different difficulty:
    the unpaired intervals overlap (the old test keeps both on the front), the paired one
    does not (the base model leaves it)."""
    hard_and_easy = [1.0, 5.0, 2.0, 4.0, 1.0, 3.0, 2.0, 4.0] * 3
    same = [3.0] * 24
    base = scored(0, {"xguard": same, "orbench": same, "ifeval": hard_and_easy})
    better = scored(1, {"xguard": same, "orbench": same,
                        "ifeval": [min(5.0, x + 1) for x in hard_and_easy]})
    assert better.ci["ifeval"][0] < base.ci["ifeval"][1]  # unpaired: they overlap
    assert clearly_dominates(better, base, OBJ)
    assert [r.round for r in front([base, better], OBJ)] == [1]
    # Worse on one objective (paired mean below 0): no dominance, both stay.
    traded = scored(2, {"xguard": [2.0] * 24, "orbench": same,
                        "ifeval": [min(5.0, x + 1) for x in hard_and_easy]})
    assert not clearly_dominates(traded, base, OBJ)
    assert not clearly_dominates(base, base, OBJ)
    # A record without item scores (written before they were kept): the unpaired test.
    old = base.model_copy(update={"item_scores": {}})
    assert not clearly_dominates(better, old, OBJ)


def test_trade_offs_stay_on_the_front_together():
    safe, helpful = rec(1, [4.5, 3.5, 3.0]), rec(2, [3.0, 4.8, 3.0])
    assert [r.round for r in front([safe, helpful], OBJ)] == [1, 2]


def test_hypervolume_is_exact_on_boxes():
    assert hypervolume([[3, 3, 3]]) == 8.0
    assert hypervolume([[3, 2, 2], [2, 3, 2]]) == 2 + 2 - 1
    assert hypervolume([]) == 0.0


@given(st.lists(st.tuples(*(st.floats(1, 5, allow_nan=False),) * 3), max_size=5),
       st.tuples(*(st.floats(1, 5, allow_nan=False),) * 3))
def test_hypervolume_never_falls_when_a_point_is_added(points, extra):
    before = hypervolume([list(p) for p in points])
    assert hypervolume([list(p) for p in points] + [list(extra)]) >= before - 1e-9


def test_recommendation_is_the_best_worst_objective_and_the_summary_is_plain_data():
    rounds = [rec(0, [2.8, 4.7, 2.0]), rec(1, [4.5, 4.0, 2.2]), rec(2, [3.9, 4.5, 2.6])]
    assert recommend(rounds, OBJ).round == 2
    summary = archive_summary(rounds, OBJ)
    assert summary["recommended"] == 2 and summary["front"] == [0, 1, 2]
    assert summary["hypervolume"] == sorted(summary["hypervolume"])


def test_a_round_that_loses_an_objective_to_the_base_model_is_not_recommended():
    """Round 1 has the best worst mean but scores orbench below the base model on every
    item (beyond noise); round 2 loses nothing beyond noise, so it is recommended; with
    only round 1 tried, the base model is."""
    from mosaic.tools.evaluation.pareto import losses_to_base

    spread = [2.0, 3.0, 2.5, 3.5, 2.0, 3.0] * 2
    base = scored(0, {"xguard": spread, "orbench": [5.0] * 12, "ifeval": spread})
    broke = scored(1, {"xguard": [x + 1.5 for x in spread], "orbench": [4.0] * 12,
                       "ifeval": [x + 1.5 for x in spread]})
    kept = scored(2, {"xguard": [x + 0.5 for x in spread], "orbench": [5.0] * 12,
                      "ifeval": [x + 0.4 for x in spread]})
    assert [r.round for r in front([base, broke, kept], OBJ)] == [0, 1, 2]
    assert losses_to_base(broke, [base, broke, kept], OBJ) == ["orbench"]
    assert losses_to_base(kept, [base, broke, kept], OBJ) == []
    assert min(broke.means.values()) > min(kept.means.values())  # max-min alone: round 1
    assert recommend([base, broke, kept], OBJ).round == 2
    assert recommend([base, broke], OBJ).round == 0
    assert losses_to_base(base, [base], OBJ) == [] and losses_to_base(broke, [broke], OBJ) == []
    # The base model off the front (it breaks a floor) and every front round losing to it:
    # max-min over them all decides.
    floored = base.model_copy(update={"breaches": ["ifeval >= 3"]})
    worse = scored(3, {"xguard": spread, "orbench": [4.0] * 12, "ifeval": spread})
    assert losses_to_base(worse, [floored, broke, worse], OBJ) == ["orbench"]
    assert recommend([floored, broke, worse], OBJ).round == 1


def test_a_round_below_a_score_floor_never_enters_the_front():
    from mosaic.schema import Constraint
    from mosaic.tools.evaluation.pareto import floor_breaches

    floor = [Constraint(kind="score_floor", objective="ifeval", value=3.5)]
    assert floor_breaches({"ifeval": 3.4}, floor) == [
        "ifeval mean score stays >= 3.5 (mean 3.400)"]
    assert floor_breaches({"ifeval": 3.5}, floor) == []
    assert floor_breaches({"ifeval": None}, floor)  # nothing scored cannot meet a floor
    strong = rec(1, [5.0, 5.0, 3.4]).model_copy(
        update={"breaches": floor_breaches({"ifeval": 3.4}, floor)})
    assert [r.round for r in front([rec(0, [2.0, 2.0, 3.6]), strong], OBJ)] == [0]
    assert recommend([strong], OBJ) is None


def test_stalled_rounds_counts_the_latest_rounds_that_did_not_grow_the_hypervolume():
    from mosaic.tools.evaluation.pareto import stalled_rounds

    def hv(n, value):
        return rec(n, [3.0, 3.0, 3.0]).model_copy(update={"hypervolume": value})

    assert stalled_rounds([hv(0, 8.0)]) == 0
    assert stalled_rounds([hv(0, 8.0), hv(1, 9.0)]) == 0
    assert stalled_rounds([hv(0, 8.0), hv(1, 9.0), hv(2, 9.0), hv(3, 9.0)]) == 2
    assert stalled_rounds([hv(0, 8.0), hv(1, 8.0), hv(2, 9.5)]) == 0

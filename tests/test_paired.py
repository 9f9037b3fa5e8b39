"""Paired comparison of two evaluations of the same items."""

from __future__ import annotations

from mosaic.schema import JudgedSample, PromptChannel, ResponseChannel
from mosaic.stats import mean_interval
from mosaic.tools.evaluation.paired import compare


def judged(scores: dict[str, list[float | None]]) -> list[JudgedSample]:
    return [JudgedSample(id=f"{slice_}-{i}", objective="ifeval",
                         prompt=PromptChannel(slice=slice_, weight=1),
                         response=ResponseChannel(score=score) if score is not None
                         else ResponseChannel(score=None, error="judge failed"))
            for slice_, values in scores.items() for i, score in enumerate(values)]


def test_a_consistent_small_gain_is_seen_paired_where_unpaired_intervals_overlap():
    """Items of very different difficulty, each one point better in the round: the
    unpaired intervals overlap, the paired one excludes zero."""
    base_scores = [1.0, 5.0, 2.0, 4.0, 1.0, 3.0, 2.0, 4.0] * 3
    round_scores = [min(5.0, s + 1) for s in base_scores]
    base = {"ifeval": judged({"complexity_1": base_scores})}
    trained = {"ifeval": judged({"complexity_1": round_scores})}
    delta = compare(trained, base)["ifeval"].delta
    assert delta.n == 24 and delta.mean > 0.8 and delta.significant and delta.ci_low > 0
    assert mean_interval(base_scores)[1] > mean_interval(round_scores)[0]  # they overlap
    assert not compare(base, base)["ifeval"].delta.significant  # no difference with itself


def test_pairs_are_matched_by_item_and_split_by_slice():
    base = {"ifeval": judged({"complexity_1": [3.0, 3.0, None], "complexity_2": [2.0, 2.0]})}
    trained = {"ifeval": judged({"complexity_1": [4.0, 4.0, 5.0], "complexity_2": [2.0]}),
               "xguard": []}
    result = compare(trained, base)
    assert set(result) == {"ifeval"}  # only objectives both evaluated
    ifeval = result["ifeval"]
    assert ifeval.delta.n == 3  # the unscored base item and the missing one are left out
    assert ifeval.slices["complexity_1"].n == 2 and ifeval.slices["complexity_1"].mean == 1.0
    assert ifeval.slices["complexity_2"].mean == 0.0
    assert ifeval.delta.ci_low < ifeval.delta.mean < ifeval.delta.ci_high

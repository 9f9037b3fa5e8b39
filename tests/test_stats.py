"""mosaic.stats: intervals that are never zero-width and shrink with evidence."""

from __future__ import annotations

import pytest

from mosaic.stats import mean_interval, paired_interval


def test_all_equal_scores_do_not_claim_certainty():
    low, high = mean_interval([3.0] * 15)
    assert low < 3.0 < high and high - low > 0.1
    assert mean_interval([3.0] * 100)[1] - mean_interval([3.0] * 100)[0] < high - low


def test_intervals_hold_the_mean_and_narrow_with_n():
    few = [1, 2, 5, 4, 3, 5]
    low, high = mean_interval(few)
    assert low < sum(few) / len(few) < high
    wide, narrow = mean_interval(few * 2), mean_interval(few * 20)
    assert narrow[1] - narrow[0] < wide[1] - wide[0] < high - low
    assert mean_interval(few, seed=1) == mean_interval(few, seed=1)
    assert mean_interval([]) == (None, None)


def test_paired_intervals_see_a_consistent_gain_and_refuse_unpaired_input():
    base = [3.0] * 20
    better = [4.0] * 10 + [3.0] * 10
    low, high = paired_interval(better, base)
    assert 0 < low < 0.5 < high  # a gain of 0.5, told apart from zero
    same_low, same_high = paired_interval(base, base)
    assert same_low < 0 < same_high  # identical evaluations: no difference, not certainty
    with pytest.raises(ValueError, match="differ in length: 2 vs 1"):
        paired_interval([1, 2], [1])

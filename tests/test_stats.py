"""mosaic.stats: intervals that are never zero-width and shrink with evidence."""

from __future__ import annotations

import pytest

from mosaic.stats import mean_interval, paired_interval, student_t_quantile


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


def test_small_samples_get_students_tails():
    exact = {1: 12.706, 4: 2.7764, 9: 2.2622, 14: 2.1448, 29: 2.0452, 99: 1.9842}
    for dof, value in exact.items():
        assert student_t_quantile(0.95, dof) == pytest.approx(value, rel=1e-3)
    with pytest.raises(ValueError, match="at least 5 samples"):
        student_t_quantile(0.9, 2)
    low, high = mean_interval([1.0, 5.0])  # two items say little: most of the scale
    assert low < 2 and high > 4 and low >= 1.0 and high <= 5.0


def test_rate_intervals_are_wilson_intervals_never_zero_width():
    from mosaic.stats import rate_interval

    assert rate_interval(0, 15) == (0.0, 0.2039)  # 0 of 15 is not "certainly never"
    assert rate_interval(15, 15) == (0.7961, 1.0)
    low, high = rate_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert rate_interval(0, 0) == (None, None)
    with pytest.raises(ValueError, match="6 successes out of 5"):
        rate_interval(6, 5)

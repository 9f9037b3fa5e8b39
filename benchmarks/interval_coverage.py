"""Actual coverage of mosaic.stats' nominal 95% intervals on simulated 1-5 scores.

    .venv/bin/python benchmarks/interval_coverage.py              # ~3 min
    .venv/bin/python benchmarks/interval_coverage.py --trials 400 # quicker, noisier

For each score distribution (including all-equal-but-not-certain ones: 95% of items at one
score) and n = 5, 10, 15, 30, 100: draw n items, compute the interval, count how often it
holds the true mean; the same for paired samples (two evaluations of the same items, where
most items keep their score and some move). Prints coverage (goal >= 0.93 everywhere), the
mean width, and the percentile bootstrap's coverage beside it as the baseline.
"""

from __future__ import annotations

import argparse

import numpy as np

from mosaic.stats import RESAMPLES, SCALE, mean_interval, paired_interval, percentile_bootstrap

SIZES = (5, 10, 15, 30, 100)
SINGLE = {
    "uniform": (0.2, 0.2, 0.2, 0.2, 0.2),
    "skewed high": (0.05, 0.05, 0.1, 0.3, 0.5),
    "bimodal 1/5": (0.5, 0.0, 0.0, 0.0, 0.5),
    "95% at 3": (0.0, 0.025, 0.95, 0.025, 0.0),
    "95% at 5": (0.0, 0.0, 0.0, 0.05, 0.95),
    "90% at 1": (0.9, 0.05, 0.05, 0.0, 0.0),
    "all at 3": (0.0, 0.0, 1.0, 0.0, 0.0),
}
MIDDLE = (0.0, 0.25, 0.5, 0.25, 0.0)
PAIRED = {  # (distribution of the base score, {move: chance an item's score moves by it})
    "identical": ((0.1, 0.2, 0.4, 0.2, 0.1), {}),
    "10% move up 1": ((0.1, 0.2, 0.4, 0.2, 0.1), {1: 0.1}),
    "30% move up 2": ((0.2, 0.2, 0.2, 0.2, 0.2), {2: 0.3}),
    "95% at 3, 5% move": ((0.0, 0.025, 0.95, 0.025, 0.0), {1: 0.05}),
    "+-1 noise, truth 0": (MIDDLE, {1: 0.2, -1: 0.2}),  # the false-positive case
    "25% up 1, 5% down 1": (MIDDLE, {1: 0.25, -1: 0.05}),
}


def pair(rng, dist, moves, n):
    first = rng.choice(SCALE, size=n, p=dist)
    steps, chances = list(moves), list(moves.values())
    draw = rng.choice(len(steps) + 1, size=n, p=[1 - sum(chances), *chances])
    shift = np.asarray([0, *steps], dtype=float)[draw]
    second = np.clip(first + shift, 1, 5)
    return second, first  # the round, the base: difference = round - base


def true_paired(dist, moves) -> float:
    return sum(p * chance * (min(5.0, max(1.0, s + step)) - s)
               for p, s in zip(dist, SCALE, strict=True) for step, chance in moves.items())


def cell(intervals, truth: float, trials: int) -> tuple[float, str]:
    """One table cell: `intervals(t)` gives trial t's (new, percentile bootstrap) intervals;
    returns the new interval's coverage and the printed cell."""
    hit = boot = width = 0
    for t in range(trials):
        (low, high), (b_low, b_high) = intervals(t)
        hit += low <= truth <= high
        boot += b_low <= truth <= b_high
        width += high - low
    return hit / trials, f"{hit / trials:.3f} ({boot / trials:.2f}) {width / trials:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    draws = args.resamples

    def single(dist, n):
        def intervals(t):
            scores = rng.choice(SCALE, size=n, p=dist).tolist()
            return (mean_interval(scores, resamples=draws, seed=t),
                    percentile_bootstrap(scores, resamples=draws, seed=t))
        return intervals

    def paired(dist, moves, n):
        def intervals(t):
            second, first = pair(rng, dist, moves, n)
            return (paired_interval(second.tolist(), first.tolist(), resamples=draws, seed=t),
                    percentile_bootstrap((second - first).tolist(), resamples=draws, seed=t))
        return intervals

    tables = [
        ("single mean", [(name, float(np.dot(dist, SCALE)), lambda n, d=dist: single(d, n))
                         for name, dist in SINGLE.items()]),
        ("paired difference (round - base)",
         [(f"{name} (true {true_paired(dist, moves):+.3f})", true_paired(dist, moves),
           lambda n, d=dist, m=moves: paired(d, m, n)) for name, (dist, moves) in PAIRED.items()]),
    ]
    worst = 1.0
    for title, rows in tables:
        print(f"\n{title}, {args.trials} trials per cell: coverage (bootstrap's) / width")
        print(f"{'distribution':>20} " + " ".join(f"{'n=' + str(n):>18}" for n in SIZES))
        for label, truth, make in rows:
            cells = []
            for n in SIZES:
                coverage, text = cell(make(n), truth, args.trials)
                worst = min(worst, coverage)
                cells.append(text)
            print(f"{label:>20} " + " ".join(f"{c:>18}" for c in cells), flush=True)
    print(f"\nlowest coverage: {worst:.3f} (goal >= 0.93)")


if __name__ == "__main__":
    main()

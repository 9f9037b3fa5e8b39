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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    worst = 1.0
    print(f"single mean, {args.trials} trials per cell: coverage (bootstrap's) / width")
    print(f"{'distribution':>20} " + " ".join(f"{'n=' + str(n):>18}" for n in SIZES))
    for name, dist in SINGLE.items():
        truth = float(np.dot(dist, SCALE))
        cells = []
        for n in SIZES:
            hit = boot = width = 0
            for t in range(args.trials):
                scores = rng.choice(SCALE, size=n, p=dist).tolist()
                low, high = mean_interval(scores, resamples=args.resamples, seed=t)
                b_low, b_high = percentile_bootstrap(scores, resamples=args.resamples, seed=t)
                hit += low <= truth <= high
                boot += b_low <= truth <= b_high
                width += high - low
            worst = min(worst, hit / args.trials)
            cells.append(f"{hit / args.trials:.3f} ({boot / args.trials:.2f}) "
                         f"{width / args.trials:.2f}")
        print(f"{name:>20} " + " ".join(f"{c:>18}" for c in cells), flush=True)
    print(f"\npaired difference (round - base), {args.trials} trials per cell")
    print(f"{'distribution':>20} " + " ".join(f"{'n=' + str(n):>18}" for n in SIZES))
    for name, (dist, moves) in PAIRED.items():
        truth = true_paired(dist, moves)
        cells = []
        for n in SIZES:
            hit = boot = width = 0
            for t in range(args.trials):
                second, first = pair(rng, dist, moves, n)
                low, high = paired_interval(second.tolist(), first.tolist(),
                                            resamples=args.resamples, seed=t)
                b_low, b_high = percentile_bootstrap((second - first).tolist(),
                                             resamples=args.resamples, seed=t)
                hit += low <= truth <= high
                boot += b_low <= truth <= b_high
                width += high - low
            worst = min(worst, hit / args.trials)
            cells.append(f"{hit / args.trials:.3f} ({boot / args.trials:.2f}) "
                         f"{width / args.trials:.2f}")
        print(f"{name:>20} (true {truth:+.3f}) " + " ".join(f"{c:>18}" for c in cells),
              flush=True)
    print(f"\nlowest coverage: {worst:.3f} (goal >= 0.93)")


if __name__ == "__main__":
    main()

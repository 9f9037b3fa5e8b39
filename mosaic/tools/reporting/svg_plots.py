"""Inline SVG plots for the run report: plain strings, no JavaScript, no network.

Each plot is one function from plain numbers and labels to one `<svg>` element. Every text
that reaches the markup (labels, names, tooltips) passes through `esc`, the one escaping
helper of the reports. Scores live on the objectives' 1..5 scale.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")
"""Okabe-Ito colours: told apart with the common colour-vision deficiencies."""
MUTED = "#9a9a9a"
NO_DATA = "#dddddd"
ACCENT = "#d55e00"
LOW, HIGH = 1.0, 5.0
"""The score scale."""
_STOPS = ((1.0, (178, 24, 43)), (3.0, (247, 247, 247)), (5.0, (33, 102, 172)))
"""Diverging colour scale for scores: red (1) through near-white (3) to blue (5)."""
_DASH = ' stroke-width="2" stroke-dasharray="5 3"'


def esc(value: object) -> str:
    """Any value as text safe in an HTML/SVG text or attribute position."""
    return html.escape(str(value), quote=True)


def fmt(value: float | None, digits: int = 2) -> str:
    """A number with fixed decimals, "-" for none."""
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Point:
    """One value with its 95% CI; `value` None when nothing was measured."""

    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Scale:
    """Linear map from data [lo, hi] to pixels [start, end]."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return round(self.start + (value - self.lo) / span * (self.end - self.start), 1)


def score_colour(value: float | None) -> str:
    """Fill colour of a score on the diverging 1..5 scale; grey for no data."""
    if value is None:
        return NO_DATA
    value = min(max(value, LOW), HIGH)
    (a, ca), (b, cb) = (_STOPS[0], _STOPS[1]) if value <= _STOPS[1][0] else (_STOPS[1], _STOPS[2])
    t = (value - a) / (b - a)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
            f'width="{width:g}" height="{height:g}" role="img" aria-label="{esc(title)}" '
            'font-family="system-ui, sans-serif" font-size="11" fill="#333">'
            f"<title>{esc(title)}</title>\n" + "\n".join(body) + "\n</svg>")


def _text(x: float, y: float, text: object, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}"{extra}>{esc(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = "#444",
          extra: str = "") -> str:
    return (f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" '
            f'stroke="{colour}"{extra}/>')


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    raw = (hi - lo) / (count - 1) or 1.0
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start, end = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return [start + i * step for i in range(round((end - start) / step) + 1)]


def _y_axis(sy: Scale, left: float, right: float, ticks: Sequence[float],
            label: str = "", digits: int = 1) -> list[str]:
    parts = []
    for tick in ticks:
        y = sy(tick)
        parts.append(_line(left, y, right, y, "#e6e6e6"))
        parts.append(_text(left - 5, y + 4, fmt(tick, digits), "end"))
    if label:
        mid = (sy.start + sy.end) / 2
        parts.append(_text(12, mid, label, extra=f' transform="rotate(-90 12 {mid:g})"'))
    return parts


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """Colour swatches with names in a row; a `dash` colour draws a dashed line instead."""
    parts = []
    for name, colour in items:
        if colour == "dash":
            parts.append(_line(x - 4, y - 4, x + 12, y - 4, "#222", _DASH))
        else:
            parts.append(f'<rect x="{x:g}" y="{y - 9:g}" width="10" height="10" '
                         f'fill="{colour}"/>')
        parts.append(_text(x + 16, y, name, "start"))
        x += 28 + 7.5 * len(name)
    return parts


def _extent(points: Sequence[Point]) -> tuple[float, float]:
    """A padded data range on the score scale for one axis of a scatter plot."""
    values = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.1, 0.05)
    lo, hi = max(LOW, lo - pad), min(HIGH, hi + pad)
    return (lo, hi) if hi - lo > 1e-9 else (max(LOW, lo - 0.5), min(HIGH, hi + 0.5))


def _pair_panel(names: tuple[str, str], rounds: Sequence[int],
                xs: Sequence[Point], ys: Sequence[Point], front: Collection[int],
                recommended: int | None, size: tuple[int, int]) -> list[str]:
    width, height = size
    left, right, top, bottom = 48, width - 12, 14, height - 40
    # (round, x, y, x value, y value) of the rounds with both values measured
    found = [(r, x, y, x.value, y.value) for r, x, y in zip(rounds, xs, ys, strict=True)
             if x.value is not None and y.value is not None]
    if not found:
        return [_text(width / 2, height / 2, f"{names[0]} / {names[1]}: no scored rounds")]
    x_ticks, y_ticks = (_ticks(*_extent(p)) for p in ([x for _, x, _, _, _ in found],
                                                       [y for _, _, y, _, _ in found]))
    sx = Scale(x_ticks[0], x_ticks[-1], left, right)
    sy = Scale(y_ticks[0], y_ticks[-1], bottom, top)
    parts = _y_axis(sy, left, right, y_ticks, digits=2)
    parts += [_text(sx(t), bottom + 14, fmt(t, 2)) for t in x_ticks]
    parts.append(_text((left + right) / 2, bottom + 30, names[0]))
    mid = (top + bottom) / 2
    parts.append(_text(10, mid, names[1], extra=f' transform="rotate(-90 10 {mid:g})"'))
    parts.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
                 'fill="none" stroke="#999"/>')
    for _, x, y, xv, yv in found:
        if x.low is not None and x.high is not None:
            parts.append(_line(sx(x.low), sy(yv), sx(x.high), sy(yv), MUTED))
        if y.low is not None and y.high is not None:
            parts.append(_line(sx(xv), sy(y.low), sx(xv), sy(y.high), MUTED))
    on_front = sorted((xv, yv) for r, _, _, xv, yv in found if r in front)
    if len(on_front) > 1:
        path = " ".join(f"{sx(a):g},{sy(b):g}" for a, b in on_front)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" '
                     'stroke-width="1.5"/>')
    for r, _, _, xv, yv in found:
        px, py = sx(xv), sy(yv)
        tip = f"round {r}: {names[0]} {fmt(xv)}, {names[1]} {fmt(yv)}"
        colour = PALETTE[0] if r in front else MUTED
        if r == recommended:
            parts.append(f'<circle cx="{px:g}" cy="{py:g}" r="9" fill="none" '
                         f'stroke="{ACCENT}" stroke-width="2"/>')
        parts.append(f'<circle cx="{px:g}" cy="{py:g}" r="5" fill="{colour}">'
                     f"<title>{esc(tip)}</title></circle>")
        parts.append(_text(px + 10, py - 8, r, "start"))
    return parts


def front_plot(names: Sequence[str], rounds: Sequence[int], points: Mapping[str, Sequence[Point]],
               front: Collection[int], recommended: int | None) -> str:
    """Round means (with CI whiskers) for every pair of objectives, front rounds joined."""
    size, per_row = (300, 280), 3
    pairs = list(combinations(names, 2))
    cols = min(len(pairs), per_row)
    rows = -(-len(pairs) // per_row)
    parts = []
    for i, (a, b) in enumerate(pairs):
        panel = _pair_panel((a, b), rounds, points[a], points[b], front, recommended, size)
        dx, dy = size[0] * (i % per_row), size[1] * (i // per_row)
        parts.append(f'<g transform="translate({dx} {dy})">' + "".join(panel) + "</g>")
    legend_y = size[1] * rows + 16
    parts += _legend([("front", PALETTE[0]), ("off the front", MUTED)], 48, legend_y)
    parts.append(f'<circle cx="{248:g}" cy="{legend_y - 4:g}" r="6" fill="none" '
                 f'stroke="{ACCENT}" stroke-width="2"/>')
    parts.append(_text(260, legend_y, "recommended", "start"))
    return _svg(size[0] * cols, legend_y + 8, "Pareto front: round means per objective pair",
                parts)


def line_plot(x_labels: Sequence[str], series: Mapping[str, Sequence[Point]]) -> str:
    """One line per series over the x positions, CI whiskers, y on the 1..5 scale."""
    width, height = max(360, 70 * len(x_labels) + 90), 280
    left, right, top, bottom = 48, width - 16, 14, height - 56
    sx = Scale(-0.5, len(x_labels) - 0.5, left, right)
    sy = Scale(LOW, HIGH, bottom, top)
    parts = _y_axis(sy, left, right, _ticks(LOW, HIGH), "mean score")
    parts += [_text(sx(i), bottom + 16, label) for i, label in enumerate(x_labels)]
    parts.append(_text((left + right) / 2, bottom + 32, "round"))
    for k, (name, points) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        for i, p in enumerate([*points, Point(None)]):
            if p.value is None:
                if len(segment) > 1:
                    parts.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                                 f'stroke="{colour}" stroke-width="2"/>')
                segment = []
                continue
            x, y = sx(i), sy(p.value)
            segment.append(f"{x:g},{y:g}")
            if p.low is not None and p.high is not None:
                parts.append(_line(x, sy(p.low), x, sy(p.high), colour))
            parts.append(f'<circle cx="{x:g}" cy="{y:g}" r="3.5" fill="{colour}">'
                         f"<title>{esc(f'{name}, round {x_labels[i]}: {fmt(p.value)}')}"
                         "</title></circle>")
    legend = [(name, PALETTE[k % len(PALETTE)]) for k, name in enumerate(series)]
    parts += _legend(legend, left, height - 8)
    return _svg(width, height, "Objective means per round", parts)


def heatmap(row_labels: Sequence[str], col_labels: Sequence[str],
            values: Sequence[Sequence[float | None]]) -> str:
    """Cells coloured by score (grey: no data), the value printed in each cell."""
    shown = [label if len(label) <= 40 else label[:39] + "…" for label in row_labels]
    label_w = 12 + 7.2 * max((len(label) for label in shown), default=4)
    cell_w, cell_h, top = 56, 22, 22
    width = label_w + cell_w * len(col_labels) + 10
    height = top + cell_h * len(row_labels) + 44
    parts = [_text(label_w + cell_w * (j + 0.5), top - 7, c) for j, c in enumerate(col_labels)]
    for i, (label, row) in enumerate(zip(shown, values, strict=True)):
        y = top + cell_h * i
        parts.append(_text(label_w - 6, y + 15, label, "end"))
        for j, value in enumerate(row):
            x = label_w + cell_w * j
            tip = f"{row_labels[i]}, round {col_labels[j]}: {fmt(value)}"
            parts.append(f'<rect x="{x:g}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                         f'fill="{score_colour(value)}"><title>{esc(tip)}</title></rect>')
            ink = "#ffffff" if value is not None and abs(value - 3.0) > 1.2 else "#222222"
            parts.append(_text(x + cell_w / 2 - 1, y + 15, fmt(value),
                               extra=f' fill="{ink}"'))
    legend = [(f"{s:g}", score_colour(s)) for s in (1, 2, 3, 4, 5)] + [("no data", NO_DATA)]
    parts += _legend(legend, 12, height - 14)
    return _svg(width, height, "Slice means per round", parts)


def _compact(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def stacked_bars(col_labels: Sequence[str], keys: Sequence[str],
                 stacks: Sequence[Mapping[str, int]], limits: Sequence[int | None]) -> str:
    """A stacked bar per column (one segment per key), each column's limit as a dashed line."""
    width, height = max(360, 64 * len(col_labels) + 100), 280
    left, right, top, bottom = 56, width - 16, 14, height - 56
    peak = max([sum(s.values()) for s in stacks] + [v or 0 for v in limits] + [1])
    ticks = _ticks(0, 1.05 * peak)
    sx = Scale(0, len(col_labels), left, right)
    sy = Scale(0, ticks[-1], bottom, top)
    parts = []
    for tick in ticks:
        parts.append(_line(left, sy(tick), right, sy(tick), "#e6e6e6"))
        parts.append(_text(left - 5, sy(tick) + 4, _compact(tick), "end"))
    slot = sx(1) - sx(0)
    for j, (label, stack) in enumerate(zip(col_labels, stacks, strict=True)):
        x, base = sx(j) + slot * 0.2, 0
        for k, key in enumerate(keys):
            tokens = stack.get(key, 0)
            if tokens:
                y0, y1 = sy(base + tokens), sy(base)
                parts.append(f'<rect x="{x:g}" y="{y0:g}" width="{slot * 0.6:g}" '
                             f'height="{y1 - y0:g}" fill="{PALETTE[k % len(PALETTE)]}">'
                             f"<title>{esc(f'round {label}, {key}: {tokens:,} tokens')}"
                             "</title></rect>")
            base += tokens
        limit = limits[j]
        if limit is not None:
            parts.append(_line(sx(j) + 2, sy(limit), sx(j + 1) - 2, sy(limit), "#222", _DASH))
        parts.append(_text(sx(j) + slot / 2, bottom + 16, label))
    parts.append(_text((left + right) / 2, bottom + 32, "round"))
    legend = [(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)]
    parts += _legend([*legend, ("budget", "dash")], left, height - 8)
    return _svg(width, height, "Tokens per objective per round against the budget", parts)

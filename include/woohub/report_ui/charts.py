"""Charts as inline SVG, drawn on the server: no JavaScript chart library and nothing from a CDN, so the page
works without internet access and every label is escaped like the rest of the page.

:func:`line_chart` draws one line per series over shared x labels, a circle per data point (``class="point"``
with ``data-series`` and ``data-value``, and a ``<title>`` tooltip), a y axis with round ticks
(:func:`nice_ticks`) and a legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: colour-blind-safe palette (Okabe-Ito), cycled through the series
PALETTE = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


@dataclass(frozen=True)
class Series:
    """One line: a value per x label (``None`` where there is none)."""

    name: str
    values: Sequence[float | int | None]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten apart), about
    ``count`` steps; ``[0, 1]`` for an empty or all-zero chart."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
               y_label: str = "records", width: int = 640, height: int = 260) -> Markup:
    """An SVG line chart (see the module docstring); ``chart_id`` becomes ``data-chart``."""
    for line in series:
        if len(line.values) != len(labels):
            raise ValueError(f"series {line.name!r} has {len(line.values)} values for {len(labels)} labels")
    left, right, top, bottom = 56, 16, 28, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for line in series for v in line.values if v is not None]
    ticks = nice_ticks(max(values, default=0))
    y_max = ticks[-1]

    def x_at(index: int) -> float:
        return left + (plot_w / 2 if len(labels) == 1 else plot_w * index / (len(labels) - 1))

    def y_at(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for tick in ticks:
        y = y_at(tick)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_number(tick)}</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2:.1f}" class="axis-label" '
                 f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>')
    shown_every = max(1, math.ceil(len(labels) / 8))
    for index, label in enumerate(labels):
        if index % shown_every == 0 or index == len(labels) - 1:
            anchor = ("start" if index == 0 else "end" if index == len(labels) - 1 else "middle") \
                if len(labels) > 1 else "middle"
            parts.append(f'<text x="{x_at(index):.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" class="tick">'
                         f'{escape(label)}</text>')
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = [(x_at(i), y_at(v), v, labels[i]) for i, v in enumerate(line.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                         f'class="line" data-series="{escape(line.name)}"/>')
        for x, y, value, label in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" class="point" '
                         f'data-series="{escape(line.name)}" data-value="{_number(value)}">'
                         f'<title>{escape(line.name)} · {escape(label)}: {_number(value)}</title></circle>')
    legend_y = height - 14
    x = left
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{legend_y}" class="legend">{escape(line.name)}</text>')
        x += 24 + 7 * len(line.name)
    parts.append("</svg>")
    return Markup("".join(parts))

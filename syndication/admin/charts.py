"""Visits per day as an inline SVG bar chart, drawn on the server (no JavaScript).

Each chart is a stack of two series per day (links vs QR scans, or humans vs bots), with a
y axis, date labels, a legend, and <title>/<desc> for assistive technology; the page puts
the same numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 40


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5, 10, 20, 50 …) at or above `value`."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def stacked_bars(
    chart_id: str,
    title: str,
    days: Sequence[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
) -> Markup:
    """An SVG of `days` (dicts with "date" and a count per series key), one stacked bar a day.

    series: (key, label, css class) bottom to top.
    """
    totals = [sum(int(d.get(key, 0)) for key, _, _ in series) for d in days]
    top = _nice_max(max(totals, default=0) or 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    y = lambda n: TOP + plot_h - plot_h * n / top  # noqa: E731
    parts: list[str] = []
    summary = ", ".join(
        f"{label}: {sum(int(d.get(key, 0)) for d in days)}" for key, label, _ in series
    )
    span = f"{days[0]['date']} to {days[-1]['date']}" if days else "no days"
    desc = f"Visits per day from {span}, stacked bars. Totals: {summary}."
    parts.append(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    # y axis: grid lines and labels at 0, 1/2, 1 of the top.
    for fraction in (0, 0.5, 1):
        value = top * fraction
        label = f"{value:g}"
        ypos = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ypos:.1f}" '
            f'y2="{ypos:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{ypos + 4:.1f}" text-anchor="end">{label}</text>'
        )
    parts.append(
        f'<text class="axis" x="12" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">visits</text>'
    )
    every = max(1, round(len(days) / 8))  # at most ~8 date labels
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        base = 0
        for key, label, css in series:
            count = int(day.get(key, 0))
            if count:
                top_y, bottom_y = y(base + count), y(base)
                parts.append(
                    f'<rect class="{css}" x="{x:.1f}" y="{top_y:.1f}" width="{bar:.1f}" '
                    f'height="{bottom_y - top_y:.1f}"><title>{escape(day["date"])}: '
                    f"{count} {escape(label)}</title></rect>"
                )
            base += count
        if (len(days) - 1 - i) % every == 0:  # counted from the last day: it always has one
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(day["date"][5:])}</text>'
            )
    parts.append(
        f'<line class="axis-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}"/>'
        f'<text class="axis" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">day (MM-DD)</text>'
    )
    x = LEFT
    for _key, label, css in series:  # legend along the top
        parts.append(
            f'<rect class="{css}" x="{x}" y="8" width="12" height="12"/>'
            f'<text class="legend" x="{x + 18}" y="18">{escape(label)}</text>'
        )
        x += 30 + 8 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))

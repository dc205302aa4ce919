"""Visits per day as an inline SVG bar chart, drawn on the server (no JavaScript).

Each chart is a stack of two series per day (links vs QR scans, or humans vs bots), with a
y axis, date labels, a legend, and <title>/<desc> for assistive technology; the page puts
the same numbers in a table beside it.

An SVG with a viewBox scales everything in it, text included, to the width it is drawn at: one
drawing cannot keep its text readable both on a phone (a 720-unit chart squeezed to 358 px
shows 12-unit text at 6 px) and on a desktop. So each chart is drawn in two sizes, a wide one
and a narrow one, and admin.css shows one of them by the screen's width (600 px); each size
gets the font size that is at least MIN_TEXT_PX on the narrowest screen it is shown on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

MIN_TEXT_PX = 11  # the smallest rendered text size the admin accepts for chart labels
PAGE_GUTTER_PX = 32  # body padding (1rem each side, site.css) around the chart's figure


@dataclass(frozen=True)
class Size:
    """One drawing of a chart: its viewBox size and the narrowest screen it is shown on."""

    name: str
    width: int  # viewBox units; the chart is drawn at 100% of its box (at most `width` px wide)
    height: int
    min_screen_px: int  # narrowest viewport that shows this size (admin.css media queries)
    max_labels: int  # date labels along the x axis, at most

    @property
    def min_rendered_px(self) -> int:
        return min(self.width, self.min_screen_px - PAGE_GUTTER_PX)

    @property
    def font(self) -> int:
        """User units per glyph so that text is at least MIN_TEXT_PX at the narrowest width."""
        return math.ceil(MIN_TEXT_PX * self.width / self.min_rendered_px)


# Wide from a 600 px viewport up (admin.css: .chart-wide), narrow below it down to 360 px phones.
WIDE = Size("wide", 720, 260, min_screen_px=600, max_labels=8)
NARROW = Size("narrow", 360, 240, min_screen_px=360, max_labels=5)
SIZES = (WIDE, NARROW)


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5, 10, 20, 50 …) at or above `value`."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def y_ticks(top: int) -> list[int]:
    """Whole-number gridlines up to `top` (a _nice_max value): counts have no half visits."""
    if top <= 5:
        return list(range(top + 1))
    return [0, top // 2, top]  # top is 10, 20, 50 … here: its half is whole


def stacked_bars(
    chart_id: str,
    title: str,
    days: Sequence[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
    size: Size = WIDE,
    unit: str = "visits",
) -> Markup:
    """An SVG of `days` (dicts with "date" and a count per series key), one stacked bar a day.

    series: (key, label, css class) bottom to top.
    """
    totals = [sum(int(d.get(key, 0)) for key, _, _ in series) for d in days]
    top = _nice_max(max(totals, default=0) or 1)
    font = size.font
    char = 0.6 * font  # an average glyph's advance, for spacing labels
    left = math.ceil(font * 1.4 + 8 + char * len(str(top)))  # rotated title + tick labels
    right, top_margin, bottom = math.ceil(char * 2.5) + 2, font + 16, 2 * font + 14
    width, height = size.width, size.height
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    y = lambda n: top_margin + plot_h - plot_h * n / top  # noqa: E731
    parts: list[str] = []
    summary = ", ".join(
        f"{label}: {sum(int(d.get(key, 0)) for d in days)}" for key, label, _ in series
    )
    span = f"{days[0]['date']} to {days[-1]['date']}" if days else "no days"
    desc = f"{unit.capitalize()} per day from {span}, stacked bars. Totals: {summary}."
    cid = escape(chart_id)
    parts.append(
        f'<svg class="chart chart-{size.name}" id="{cid}" viewBox="0 0 {width} {height}" '
        f'width="100%" font-size="{font}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )

    def text(x: float, ypos: float, body: str, cls: str = "axis", extra: str = "") -> str:
        return (
            f'<text class="{cls}" x="{x:.1f}" y="{ypos:.1f}" font-size="{font}"{extra}>'
            f"{escape(body)}</text>"
        )

    for value in y_ticks(top):
        ypos = y(value)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ypos:.1f}" '
            f'y2="{ypos:.1f}"/>'
            + text(left - 6, ypos + font * 0.35, str(value), extra=' text-anchor="end"')
        )
    mid = top_margin + plot_h / 2
    rot_x = font * 0.9
    parts.append(
        text(rot_x, mid, unit, extra=f' text-anchor="middle" transform="rotate(-90 '
             f'{rot_x:.1f} {mid:.1f})"')
    )  # fmt: skip
    label_w = char * 5 + font  # "MM-DD" and a gap
    labels = max(1, min(size.max_labels, int(plot_w // label_w)))
    every = max(1, math.ceil(len(days) / labels))
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
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
                text(x + bar / 2, height - bottom + font + 4, day["date"][5:],
                     extra=' text-anchor="middle"')
            )  # fmt: skip
    parts.append(
        f'<line class="axis-line" x1="{left}" x2="{width - right}" y1="{top_margin + plot_h}" '
        f'y2="{top_margin + plot_h}"/>'
        + text(left + plot_w / 2, height - 4, "day (MM-DD)", extra=' text-anchor="middle"')
    )
    x = float(left)
    swatch = font - 2
    for _key, label, css in series:  # legend along the top
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="6" width="{swatch}" height="{swatch}"/>'
            + text(x + swatch + 5, 6 + swatch, label, cls="legend")
        )
        x += swatch + 5 + char * len(label) + font * 1.5
    parts.append("</svg>")
    return Markup("".join(parts))


def responsive_bars(
    chart_id: str,
    title: str,
    days: Sequence[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
    unit: str = "visits",
) -> Markup:
    """The chart in every size (ids `chart_id` and `chart_id-narrow`); CSS shows one."""
    return Markup("").join(
        stacked_bars(chart_id if size is WIDE else f"{chart_id}-{size.name}", title, days,
                     series, size, unit)
        for size in SIZES
    )  # fmt: skip

"""The statistics charts (syndication/admin/charts.py) as drawn: whole-number ticks for counts,
text at least 11 px at the width each drawing is shown at, full width by its viewBox."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from lxml import etree

from syndication.admin import charts

SVG = "{http://www.w3.org/2000/svg}"
SERIES = [("human", "humans", "s-human"), ("bot", "bots", "s-bot")]


def _days(counts: list[tuple[int, int]]) -> list[dict]:
    first = date(2025, 3, 1)
    return [
        {"date": (first + timedelta(days=i)).isoformat(), "human": h, "bot": b}
        for i, (h, b) in enumerate(counts)
    ]


def _svg(counts: list[tuple[int, int]], size: charts.Size) -> etree._Element:
    return etree.fromstring(str(charts.stacked_bars("c", "Visits", _days(counts), SERIES, size)))


def _ticks(svg: etree._Element) -> list[str]:
    """The y axis labels: the text anchored at the end, left of the plot."""
    return [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]


@pytest.mark.parametrize("size", charts.SIZES, ids=lambda s: s.name)
@pytest.mark.parametrize("most", [0, 1, 2, 3])
def test_small_counts_get_whole_number_ticks(size, most):
    svg = _svg([(0, 0)] * 6 + [(most, 0)], size)
    ticks = _ticks(svg)
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
    values = [int(t) for t in ticks]
    assert values[0] == 0 and values[-1] >= max(most, 1)
    assert values == sorted(set(values))
    if most:
        assert values[-1] <= 5  # a tight axis: at most 5 for 3 visits


@pytest.mark.parametrize("top", [1, 2, 5, 10, 20, 50, 100, 1000])
def test_ticks_are_whole_numbers_at_every_scale(top):
    assert all(isinstance(t, int) for t in charts.y_ticks(top))
    assert charts.y_ticks(top)[-1] == top


@pytest.mark.parametrize("size", charts.SIZES, ids=lambda s: s.name)
def test_text_is_at_least_11_px_where_each_drawing_is_shown(size):
    svg = _svg([(3, 1), (0, 2), (1, 0)] * 10, size)
    assert svg.get("width") == "100%" and svg.get("viewBox") == f"0 0 {size.width} {size.height}"
    scale = size.min_rendered_px / size.width  # CSS px per user unit at its narrowest
    texts = list(svg.iter(f"{SVG}text"))
    assert texts
    for text in texts:
        assert float(text.get("font-size")) * scale >= charts.MIN_TEXT_PX, text.text


def test_on_a_390_px_phone_the_narrow_drawing_has_text_of_11_px_or_more():
    rendered = 390 - charts.PAGE_GUTTER_PX  # the chart fills the page's width
    assert charts.NARROW.min_screen_px <= 390 < charts.WIDE.min_screen_px
    assert charts.NARROW.font * rendered / charts.NARROW.width >= 11
    # The wide drawing squeezed to a phone would not be readable: hence the narrow one.
    assert charts.WIDE.font * rendered / charts.WIDE.width < 11


def test_both_drawings_carry_their_own_ids_and_the_same_description():
    both = str(charts.responsive_bars("who", "Humans vs bots", _days([(1, 2)]), SERIES))
    assert 'id="who"' in both and 'id="who-narrow"' in both
    assert both.count("Totals: humans: 1, bots: 2.") == 2


def test_date_labels_stay_inside_the_drawing():
    for size in charts.SIZES:
        svg = _svg([(1, 0)] * 90, size)
        labels = [t for t in svg.iter(f"{SVG}text") if re.fullmatch(r"\d\d-\d\d", t.text or "")]
        assert 2 <= len(labels) <= size.max_labels
        half = 0.6 * size.font * 5 / 2
        for label in labels:
            x = float(label.get("x"))
            assert half <= x and x + half <= size.width, (size.name, label.text, x)

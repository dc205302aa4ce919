"""Plain-text article exports."""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

from .import_helpers import DATA, read_all

EXAMPLE_BODY = "<p>Engineers replaced the main cables and resurfaced the deck.</p>"


def write(tmp_path: Path, text: str, name: str = "export.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def article(title: str = "Title", date: str = "14 Feb 2025 09:10", *tail: str) -> str:
    return "\n\n".join([title, date, "Wire - Lead.", *tail]) + "\n"


def test_the_example_exactly():
    [record] = read_all(DATA / "harbour.txt")
    assert record.error is None
    assert record.location == f"{DATA / 'harbour.txt'}:1"
    assert record.data == {
        "title": "Harbour Bridge Reopens After Repairs",
        "published_at": "2025-02-14T09:10:00+00:00",
        "source": "Coastal Herald",
        "summary": (
            "The harbour bridge reopened to traffic on Friday after eight months of repairs."
        ),
        "body_html": EXAMPLE_BODY,
        "code": "2204117",
    }


def test_several_articles_good_ones_survive_a_bad_one():
    records = read_all(DATA / "several.txt")
    where = str(DATA / "several.txt")
    assert [r.location for r in records] == [
        f"{where}:1",
        f"{where}:17",
        f"{where}:31",
        f"{where}:37",
    ]
    first, second, bad, fourth = records

    # "QR Code QR Code" furniture, en dash lead, News Link on the same line
    assert first.data["title"] == "Council Approves New Library"
    assert first.data["published_at"] == "2025-03-04T18:05:00+00:00"
    assert first.data["source"] == "Valley Times"
    assert first.data["summary"] == "The council approved plans for a new library on Tuesday."
    assert first.data["url"] == "https://valley.example/stories/1001"
    assert first.data["code"] == "1001"
    assert first.data["body_html"] == "<p>Building work starts in the spring.</p>"

    # em dash lead, News Link URL on the next line, no body, trailing source dropped
    assert second.data["url"] == "https://valley.example/stories/1002"
    assert second.data["summary"] == "Evening trains will stop running after 22:00 from April."
    assert "body_html" not in second.data

    assert bad.data is None
    assert bad.error == (
        "line 33: date '31 Feb 2025 09:10' is not a valid date (expected D Mon YYYY HH:MM)"
    )

    # empty News Link, no story code: a stable identity instead
    assert "url" not in fourth.data and "code" not in fourth.data
    key = "Valley Times\nBakery Wins Award\n2025-03-06T12:00:00+00:00"
    assert fourth.data["external_id"] == "text:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def test_identity_is_stable_across_imports(tmp_path):
    path = write(tmp_path, article())
    assert read_all(path)[0].data["external_id"] == read_all(path)[0].data["external_id"]


def test_arabic_article_survives_unchanged():
    [record] = read_all(DATA / "arabic.txt")
    assert record.data["title"] == "افتتاح جسر الميناء بعد الإصلاحات"
    assert record.data["source"] == "وكالة الأنباء الساحلية"
    assert record.data["summary"] == "أعيد افتتاح جسر الميناء أمام حركة المرور يوم الجمعة."
    assert "🚧" in record.data["body_html"]
    assert record.data["code"] == "3300"


def test_devanagari_and_typographic_quotes_survive(tmp_path):
    text = article(
        "“Quoted” title ‘here’ — don’t",
        "14 Feb 2025 09:10",
        "नमस्ते दुनिया «guillemets» it’s",
    )
    [record] = read_all(write(tmp_path, text))
    assert record.data["title"] == "“Quoted” title ‘here’ — don’t"
    assert record.data["body_html"] == "<p>नमस्ते दुनिया «guillemets» it’s</p>"


def test_dst_europe_london(tmp_path):
    winter, summer = read_all(
        write(
            tmp_path,
            article("A", "29 Mar 2025 12:00") + "---\n" + article("B", "31 Mar 2025 12:00"),
        )
    )
    assert winter.data["published_at"] == "2025-03-29T12:00:00+00:00"
    assert summer.data["published_at"] == "2025-03-31T12:00:00+01:00"


def test_dst_changeover_day_and_other_zone(tmp_path):
    day_of = write(
        tmp_path, article("A", "30 Mar 2025 00:30") + "---\n" + article("B", "30 Mar 2025 02:30")
    )
    before, after = read_all(day_of)
    assert before.data["published_at"] == "2025-03-30T00:30:00+00:00"
    assert after.data["published_at"] == "2025-03-30T02:30:00+01:00"

    new_york = ZoneInfo("America/New_York")  # changes on a different day than London
    march, november = read_all(
        write(
            tmp_path,
            article("A", "9 Mar 2025 03:30") + "---\n" + article("B", "2 Nov 2025 01:30"),
            "ny.txt",
        ),
        tz=new_york,
    )
    assert march.data["published_at"] == "2025-03-09T03:30:00-04:00"
    # 01:30 happens twice that night: read as the first occurrence, still daylight time
    assert november.data["published_at"] == "2025-11-02T01:30:00-04:00"


def test_time_skipped_by_spring_forward_is_an_error(tmp_path):
    [record] = read_all(write(tmp_path, article("A", "30 Mar 2025 01:30")))
    assert record.data is None
    assert record.error == (
        "line 3: date '30 Mar 2025 01:30' does not exist in Europe/London (the clocks went forward)"
    )


def test_news_link_on_next_line_and_trailing_source(tmp_path):
    text = article(
        "T",
        "1 Jan 2025 00:00",
        "Body.",
        "Story Code: 9",
        "News Link  :",
        "https://x.example/s/9",
        "Wire",
    )
    [record] = read_all(write(tmp_path, text))
    assert record.data["url"] == "https://x.example/s/9"
    assert record.data["body_html"] == "<p>Body.</p>"  # "Wire" repeated at the end is dropped


def test_empty_news_link_then_trailing_source(tmp_path):
    text = article("T", "1 Jan 2025 00:00", "Body.", "News Link:", "WIRE")
    [record] = read_all(write(tmp_path, text))
    assert "url" not in record.data
    assert record.data["body_html"] == "<p>Body.</p>"


def test_news_link_that_is_not_a_url(tmp_path):
    [record] = read_all(
        write(tmp_path, article("T", "1 Jan 2025 00:00", "News Link: javascript:alert(1)"))
    )
    assert record.error == "line 7: news link 'javascript:alert(1)' is not an http(s) URL"


def test_source_option_overrides_parsed_source(tmp_path):
    [record] = read_all(write(tmp_path, article()), source="Partner Desk")
    assert record.data["source"] == "Partner Desk"
    assert record.data["summary"] == "Lead."


def test_windows_line_endings_and_bom(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "harbour.txt").read_bytes().replace(b"\n", b"\r\n"))
    [record] = read_all(path)
    assert record.data["title"] == "Harbour Bridge Reopens After Repairs"
    assert record.data["body_html"] == EXAMPLE_BODY
    assert record.data["code"] == "2204117"


def test_hostile_html_stays_escaped_text(tmp_path):
    text = article(
        "<script>alert('t')</script>",
        "1 Jan 2025 00:00",
        '<img src=x onerror="alert(1)"> & <b>bold</b>',
        "</p><script>steal()</script>",
    )
    [record] = read_all(write(tmp_path, text))
    assert record.data["title"] == "<script>alert('t')</script>"  # plain-text field, as written
    assert record.data["body_html"] == (
        '<p>&lt;img src=x onerror="alert(1)"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</p>\n'
        "<p>&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;</p>"
    )


def test_article_without_title(tmp_path):
    path = write(
        tmp_path, "QR Code\n\n---\n" + "14 Feb 2025 09:10\n\nWire - Lead.\n---\n" + article()
    )
    no_title, date_first, good = read_all(path)
    assert (
        no_title.location.endswith(":1")
        and no_title.error == "line 1: article has no title (only page furniture)"
    )
    assert date_first.error == "line 4: article has no title (found '14 Feb 2025 09:10' first)"
    assert good.data["title"] == "Title"


def test_missing_or_malformed_date_lines(tmp_path):
    path = write(tmp_path, "A\n\nThe lead without a source.\n---\nB\n14/02/2025 09:10\nWire - x\n")
    no_date, bad_date = read_all(path)
    assert no_date.error == (
        "line 3: expected a date line (D Mon YYYY HH:MM) after the title,"
        " found 'The lead without a source.'"
    )
    assert (
        bad_date.error
        == "line 6: date '14/02/2025 09:10' is not a valid date (expected D Mon YYYY HH:MM)"
    )


def test_undated_article_and_long_month_names(tmp_path):
    path = write(
        tmp_path,
        "A\nWire - Lead.\n---\nB\n4 March 2025 18:05\nWire - x\n---\nC\n4 Sept 2025 18:05\nx\n",
    )
    undated, march, september = read_all(path)
    assert "published_at" not in undated.data and undated.data["source"] == "Wire"
    assert march.data["published_at"] == "2025-03-04T18:05:00+00:00"
    assert september.data["published_at"] == "2025-09-04T18:05:00+01:00"
    assert september.data["summary"] == "x" and "source" not in september.data


def test_blank_articles_between_separators_are_skipped(tmp_path):
    records = read_all(write(tmp_path, "---\n\n---\n" + article() + "---\n\n"))
    assert [r.data["title"] for r in records] == ["Title"]

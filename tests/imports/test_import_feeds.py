"""RSS and Atom, parsed by feedparser from fixture files."""

from __future__ import annotations

from .import_helpers import DATA, read_all


def test_rss_items():
    first, second, third = read_all(DATA / "feed.rss", own_base="https://herald.example")
    assert first.location == f"{DATA / 'feed.rss'}: item 1"
    assert first.data == {
        "title": "Harbour Bridge Reopens",
        "url": "https://herald.example/stories/2204117",
        "external_id": "https://herald.example/stories/2204117",
        "code": "2204117",  # a link to one of our own story pages keeps its code
        "summary": "The bridge reopened & traffic flows.",
        "body_html": "<p>The bridge reopened.</p><p>Engineers replaced the cables.</p>",
        "authors": ["Jane Doe"],
        "tags": ["Transport", "Local"],
        "published_at": "2025-02-14T08:10:00+00:00",
        "image": {
            "url": "https://herald.example/img/bridge.jpg",
            "type": "image/jpeg",
            "width": 800,
            "height": 600,
        },
        "source": "Coastal Herald",
        "language": "en-GB",
    }
    assert "status" not in first.data

    # no content: the HTML description is also the body; guid is the identity; enclosure image
    assert second.data["external_id"] == "ferry-9"
    assert "code" not in second.data
    assert second.data["summary"] == "New times from Monday."
    assert second.data["body_html"] == "<p>New times from <em>Monday</em>.</p>"
    assert second.data["image"] == {
        "url": "https://elsewhere.example/ferry.png",
        "type": "image/png",
        "length": 2048,
    }

    # plain-text description: a summary but no body; neither guid nor link: a derived identity
    assert third.data["summary"] == "Just words here."
    assert "body_html" not in third.data and "url" not in third.data
    assert third.data["external_id"].startswith("feed:")
    assert read_all(DATA / "feed.rss")[2].data["external_id"] == third.data["external_id"]


def test_another_sites_story_links_carry_no_code():
    """Only our own base URL's /stories/<code> pages name our stories: another site's would
    otherwise update (overwrite) ours on import."""
    for own in (None, "https://news.example", "https://herald.example/edition"):
        first = read_all(DATA / "feed.rss", own_base=own)[0]
        assert "code" not in first.data
        assert first.data["external_id"] == "https://herald.example/stories/2204117"
    with_prefix = read_all(DATA / "feed.rss", own_base="http://HERALD.example/")[0]
    assert with_prefix.data["code"] == "2204117"


def test_rss_source_option_overrides_feed_title():
    assert {r.data["source"] for r in read_all(DATA / "feed.rss", source="Partner")} == {"Partner"}


def test_atom_entries():
    first, second = read_all(DATA / "feed.atom", own_base="https://courrier.example")
    assert first.data == {
        "title": "Le pont rouvre",
        "url": "https://courrier.example/articles/pont",
        "external_id": "tag:courrier.example,2025:pont",
        "summary": "Le pont « rouvre » <enfin>.",  # type="text": kept as written
        "body_html": "<p>Les travaux sont finis.</p>",
        "authors": ["Marie Curie", "Paul Langevin"],
        "tags": ["transport"],
        "published_at": "2025-03-30T01:30:00+00:00",
        "updated_at": "2025-03-30T12:00:00+00:00",
        "language": "fr-FR",
        "source": "Le Courrier",
    }
    # the id is one of our story URLs; plain-text content becomes escaped paragraphs
    assert second.data["code"] == "ab-12"
    assert (
        second.data["body_html"] == "<p>Premier paragraphe.</p>\n<p>Second &lt;paragraphe&gt;.</p>"
    )
    assert "summary" not in second.data and "published_at" not in second.data


def test_feed_sniffed_without_extension(tmp_path):
    path = tmp_path / "download"
    path.write_bytes(b"\n  " + (DATA / "feed.atom").read_bytes())
    assert [r.data["title"] for r in read_all(path)] == ["Le pont rouvre", "Sans lien"]


def test_broken_feed_without_entries(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</ti')
    [record] = read_all(path)
    assert record.data is None
    assert record.error.startswith("not a readable feed: ")


def test_xml_that_is_not_a_feed(tmp_path):
    path = tmp_path / "other.xml"
    path.write_bytes(b'<?xml version="1.0"?><catalog><book/></catalog>')
    [record] = read_all(path)
    assert record.error == "not an RSS or Atom feed"


def test_feed_summary_scripts_are_not_text(tmp_path):
    path = tmp_path / "evil.rss"
    path.write_bytes(
        b'<rss version="2.0"><channel><title>E</title><item><title>t</title><guid>g</guid>'
        b"<description>&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description>"
        b"</item></channel></rss>"
    )
    [record] = read_all(path)
    assert record.data["summary"] == "Hi"
    assert "script" not in record.data["body_html"]  # feedparser sanitises item HTML

"""JSON and JSON Lines: records pass through; syntax and shape problems are located."""

from __future__ import annotations

from .import_helpers import DATA, read_all


def test_array_of_stories_passes_through():
    first, second = read_all(DATA / "stories.json")
    assert first.location == f"{DATA / 'stories.json'}: record 1"
    assert first.data == {
        "code": "5001",
        "title": "First",
        "summary": "One.",
        "status": "published",
        "published_at": "2025-02-14T09:10:00+01:00",
        "tags": ["a", "b"],
    }
    assert second.data == {"title": "Second", "source": "Own Desk", "language": "fr"}


def test_source_option_only_fills_a_missing_source():
    first, second = read_all(DATA / "stories.json", source="Importer")
    assert first.data["source"] == "Importer"
    assert second.data["source"] == "Own Desk"


def test_single_object(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{"title": "Solo", "source": null}', encoding="utf-8")
    [record] = read_all(path, source="Desk")
    assert record.location == f"{path}: record 1"
    assert record.data == {"title": "Solo", "source": "Desk"}


def test_mixed_good_and_bad_records():
    records = read_all(DATA / "mixed.json")
    where = DATA / "mixed.json"
    assert [(r.location, r.data, r.error) for r in records] == [
        (f"{where}: record 1", {"title": "Good one"}, None),
        (f"{where}: record 2", None, "expected a story object, got a string"),
        (f"{where}: record 3", {"title": "Good two"}, None),
        (f"{where}: record 4", None, "expected a story object, got a number"),
    ]


def test_malformed_json_names_line_and_column():
    [record] = read_all(DATA / "broken.json")
    assert record.data is None
    assert record.location == f"{DATA / 'broken.json'}:3"
    assert record.error == "invalid JSON at line 3, column 29: Expecting ',' delimiter"


def test_top_level_scalar_is_not_a_story(tmp_path):
    path = tmp_path / "scalar.json"
    path.write_text('"hello"', encoding="utf-8")
    [record] = read_all(path)
    assert record.error == "expected an array of stories or one story object, got a string"


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    [record] = read_all(path)
    assert record.error == "invalid JSON: nested too deeply"


def test_jsonl_bad_lines_are_their_own_records():
    records = read_all(DATA / "stories.jsonl")
    where = DATA / "stories.jsonl"
    assert [(r.location, r.data, r.error) for r in records] == [
        (f"{where}:1", {"code": "7001", "title": "Line one"}, None),
        (f"{where}:3", {"title": "Line three", "source": "Wire"}, None),
        (
            f"{where}:4",
            None,
            "invalid JSON at column 20: Expecting property name enclosed in double quotes",
        ),
        (f"{where}:5", None, "expected a story object, got an array"),
        # U+2028 inside a string does not split the line
        (f"{where}:7", {"title": "Line seven\u2028with separator"}, None),
    ]


def test_ndjson_with_crlf_and_source(tmp_path):
    path = tmp_path / "feed.ndjson"
    path.write_bytes(b'{"title": "A"}\r\n\r\n{"title": "B", "source": "S"}\r\n')
    records = read_all(path, source="Desk")
    assert [r.data for r in records] == [
        {"title": "A", "source": "Desk"},
        {"title": "B", "source": "S"},
    ]
    assert [r.location for r in records] == [f"{path}:1", f"{path}:3"]

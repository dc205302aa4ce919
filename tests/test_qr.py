"""QR codes of short links: decoded with a real decoder (zbar), exact sizes, every bad parameter
refused by name, caching, the WSGI fast path and conditional GET — on SQLite and PostgreSQL.

The decoder is zbar's `zbarimg` (Debian's zbar-tools, installed by .ci/run when missing).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from syndication.links import qr
from syndication.links.qr_fastpath import EXTENSION_KEY, QrImage, QrStore
from syndication.links.service import create_link, short_url, story_link
from syndication.models import Link
from syndication.stories.service import create_story

SVG_NS = "{http://www.w3.org/2000/svg}"
IMMUTABLE = "public, max-age=31536000, immutable"


def _decode(png: bytes, tmp_path: Path) -> str:
    """What zbar reads in the image (exactly one symbol expected)."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        if os.environ.get("CI") or os.environ.get("SYNDICATION_REQUIRE_POSTGRES") == "1":
            pytest.fail("zbarimg (Debian zbar-tools) is required here; .ci/run installs it")
        pytest.skip("zbarimg not installed: apt-get install zbar-tools")
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    done = subprocess.run(
        [zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(path)],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, f"zbar found no QR code (exit {done.returncode})"
    return done.stdout.decode().rstrip("\n")


def _link(rt) -> str:
    with rt.db.write() as s:
        return create_link(s, {"url": "https://example.com/x"}, now=datetime.now(UTC)).code


def _store(app) -> QrStore:
    return app.extensions[EXTENSION_KEY]


def _png(response) -> Image.Image:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "image/png"
    return Image.open(io.BytesIO(response.data))


# Round trips through a real decoder ------------------------------------------------------------


@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_png_decodes_to_the_scan_url_at_each_ecc_level(client, rt, tmp_path, ecc):
    code = _link(rt)
    response = client.get(f"/s/{code}/qr.png?ecc={ecc}")
    image = _png(response)
    assert image.size == (256, 256)
    assert _decode(response.data, tmp_path) == f"http://news.example.test/s/{code}?m=qr"
    assert _decode(response.data, tmp_path) == short_url(rt.settings, code) + "?m=qr"


def test_png_in_colours_decodes_and_uses_them(client, rt, tmp_path):
    code = _link(rt)
    response = client.get(f"/s/{code}/qr.png?fg=1a237e&bg=%23FFF8E1&size=300")
    image = _png(response).convert("RGB")
    assert set(c for _, c in image.getcolors()) == {(0x1A, 0x23, 0x7E), (0xFF, 0xF8, 0xE1)}
    assert image.getpixel((0, 0)) == (0xFF, 0xF8, 0xE1)
    assert _decode(response.data, tmp_path) == short_url(rt.settings, code) + "?m=qr"


def test_png_without_quiet_zone_still_decodes(client, rt, tmp_path):
    code = _link(rt)
    response = client.get(f"/s/{code}/qr.png?margin=0&size=64")
    assert _png(response).size == (64, 64)
    assert _decode(response.data, tmp_path) == short_url(rt.settings, code) + "?m=qr"


def test_story_news_link_qr(client, rt, tmp_path):
    with rt.db.write() as s:
        story = create_story(
            s, rt.settings, {"title": "T", "status": "published"}, now=datetime.now(UTC)
        )
        code = story_link(s, story.id).code
    response = client.get(f"/s/{code}/qr.png?size=512&ecc=H")
    assert _png(response).size == (512, 512)
    assert _decode(response.data, tmp_path) == f"http://news.example.test/s/{code}?m=qr"


# Geometry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 65, 100, 255, 256, 777, 1024, 2048])
@pytest.mark.parametrize("margin", [0, 4, 9])
def test_png_is_exactly_size_pixels_with_at_least_margin_modules_of_quiet_zone(size, margin):
    data = "http://news.example.test/s/abc234?m=qr"
    p = qr.QrParams(size=size, margin=margin, ecc="Q")
    modules = len(qr.matrix(data, "Q"))
    if modules + 2 * margin > size:
        with pytest.raises(qr.QrParamError) as err:
            qr.render_png(data, p)
        assert err.value.param == "size"
        return
    image = Image.open(io.BytesIO(qr.render_png(data, p)))
    assert image.size == (size, size)
    assert image.format == "PNG"
    left, top, right, bottom = image.convert("L").point(lambda v: 255 - v).getbbox()
    box = (right - left) // modules  # the finder patterns put dark modules at every edge
    assert right - left == bottom - top == box * modules
    assert box == size // (modules + 2 * margin)  # the largest whole module that fits
    assert min(left, top, size - right, size - bottom) >= margin * box


def test_svg_is_valid_xml_with_size_viewbox_and_colours(client, rt, tmp_path):
    code = _link(rt)
    response = client.get(f"/s/{code}/qr.svg?size=300&margin=2&fg=%231A237E&bg=fff8e1")
    assert response.status_code == 200
    assert response.content_type == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("width") == root.get("height") == "300"
    modules = len(qr.matrix(short_url(rt.settings, code) + "?m=qr", "M"))
    total = modules + 2 * 2
    assert root.get("viewBox") == f"0 0 {total} {total}"
    rect, path = root.find(f"{SVG_NS}rect"), root.find(f"{SVG_NS}path")
    assert rect.get("fill") == "#fff8e1" and rect.get("width") == str(total)
    assert path.get("fill") == "#1a237e" and path.get("d").startswith("M2 2h7v1h-7z")

    try:
        import cairosvg  # needs libcairo2
    except (ImportError, OSError) as exc:
        pytest.skip(f"SVG not rasterised: cairosvg unavailable ({exc})")
    png = cairosvg.svg2png(bytestring=response.data)
    assert Image.open(io.BytesIO(png)).size == (300, 300)
    assert _decode(png, tmp_path) == short_url(rt.settings, code) + "?m=qr"


# Parameters --------------------------------------------------------------------------------------

BAD = [
    ("size=63", "size"),
    ("size=2049", "size"),
    ("size=abc", "size"),
    ("size=12.5", "size"),
    ("size=", "size"),
    ("size=100&size=200", "size"),
    ("margin=-1", "margin"),
    ("margin=17", "margin"),
    ("ecc=X", "ecc"),
    ("ecc=", "ecc"),
    ("fg=zzz", "fg"),
    ("fg=12345", "fg"),
    ("bg=%23ffffff0", "bg"),
    ("fg=777777&bg=888888", "fg"),  # contrast 1.26:1
    ("fg=ffffff&bg=000000", "fg"),  # fg lighter than bg
    ("fg=abcdef&bg=abcdef", "fg"),
    ("size=64&margin=16&ecc=H", "size"),  # 37 modules + 2 x 16 of margin > 64 pixels
    ("colour=red", "colour"),  # unknown parameters are refused, not ignored
]


@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.parametrize(("query", "param"), BAD)
def test_bad_parameter_is_a_400_naming_it(client, rt, query, param, fmt):
    code = _link(rt)
    response = client.get(f"/s/{code}/qr.{fmt}?{query}")
    assert response.status_code == 400
    assert response.content_type.startswith("text/plain")
    assert response.get_data(as_text=True).startswith(f"{param}: ")


def test_parse_params_normalises():
    assert qr.parse_params({}) == qr.QrParams(256, 4, "M", "000000", "ffffff")
    assert qr.parse_query("fg=%23000000&ecc=m&size=0256") == qr.parse_query("fg=000000")
    assert qr.parse_params({"fg": "#1A237E", "bg": "FFF8E1"}).fg == "1a237e"
    with pytest.raises(ValueError, match="^margin: "):
        qr.parse_params({"margin": "17"})


def test_contrast_ratio_is_wcag2():
    assert qr.contrast_ratio("000000", "ffffff") == pytest.approx(21.0)
    assert qr.contrast_ratio("ffffff", "000000") == pytest.approx(21.0)
    assert qr.contrast_ratio("777777", "ffffff") == pytest.approx(4.48, abs=0.01)
    assert qr.contrast_ratio("777777", "888888") == pytest.approx(1.26, abs=0.01)
    assert qr.parse_params({"fg": "949494"}).fg == "949494"  # 3.03:1 on white: enough
    with pytest.raises(qr.QrParamError):
        qr.parse_params({"fg": "959595"})  # 2.97:1


def test_ecc_levels_are_mapped_by_name():
    # More error correction = fewer data codewords = a bigger code, for the same data.
    data = "http://news.example.test/s/" + "x" * 60 + "?m=qr"
    sizes = [len(qr.matrix(data, level)) for level in "LMQH"]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


# Lookup, caching, fast path ----------------------------------------------------------------------


def test_unknown_and_deleted_codes_are_404(client, rt):
    for fmt in ("png", "svg"):
        response = client.get(f"/s/nosuch/qr.{fmt}")
        assert response.status_code == 404
        assert response.content_type.startswith("text/plain")
    code = _link(rt)
    with rt.db.write() as s:
        s.query(Link).filter_by(code=code).one().deleted_at = datetime.now(UTC)
    assert client.get(f"/s/{code}/qr.png").status_code == 404
    assert client.get(f"/s/{code}/qr.gif").status_code == 404


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_cached_and_served_by_the_fast_path(app, client, rt, fmt):
    store = _store(app)
    code = _link(rt)
    first = client.get(f"/s/{code}/qr.{fmt}?fg=000000&size=200")
    assert (store.renders, store.hits, len(store.cache)) == (1, 0, 1)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert first.headers["Cache-Control"] == IMMUTABLE
    assert first.headers["Content-Length"] == str(len(first.data))

    # Same normalised parameters, spelled differently: one cache entry, served by the fast path.
    for query in ("fg=000000&size=200", "fg=%23000000&size=200", "size=200&bg=FFFFFF&ecc=m"):
        again = client.get(f"/s/{code}/qr.{fmt}?{query}")
        assert again.data == first.data and again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == IMMUTABLE
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert (store.renders, store.hits, len(store.cache)) == (1, 3, 1)

    head = client.head(f"/s/{code}/qr.{fmt}?size=200")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == etag and head.headers["Content-Length"] == str(len(first.data))
    assert store.hits == 4

    client.get(f"/s/{code}/qr.{fmt}?size=201")  # another parameter set: another render
    assert (store.renders, len(store.cache)) == (2, 2)


def test_a_hit_needs_no_query(app, client, rt):
    """Codes are never reused, so a cached image stays right; the fast path does not look the
    code up (a link deleted after its image was cached is served until the entry ages out)."""
    code = _link(rt)
    first = client.get(f"/s/{code}/qr.svg")
    with rt.db.write() as s:
        s.query(Link).filter_by(code=code).one().deleted_at = datetime.now(UTC)
    assert client.get(f"/s/{code}/qr.svg").data == first.data
    assert _store(app).hits == 1


def test_conditional_get(app, client, rt):
    code = _link(rt)
    etag = client.get(f"/s/{code}/qr.png").headers["ETag"]
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        response = client.get(f"/s/{code}/qr.png", headers={"If-None-Match": value})
        assert response.status_code == 304 and response.data == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == IMMUTABLE
    assert client.get(f"/s/{code}/qr.png", headers={"If-None-Match": '"nope"'}).status_code == 200
    assert _store(app).hits == 5
    # The route (a miss) answers conditional requests the same way.
    _store(app).cache.clear()
    response = client.get(f"/s/{code}/qr.png", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.headers["ETag"] == etag


def test_cache_is_bounded_in_bytes():
    from syndication.channels.cache import PageCache

    image = QrImage.make(b"x" * 1000, "png")
    store = QrStore(cache=PageCache(4 * image.nbytes))
    for size in (64, 65, 66, 67, 68):
        store.put("abc", "png", qr.QrParams(size=size), image)
    assert len(store.cache) == 4 and store.get("abc", "png", qr.QrParams(size=64)) is None
    assert store.cache.nbytes == 4 * image.nbytes
    # An image larger than a quarter of the budget is served, never kept.
    big = QrImage.make(b"x" * 2 * image.nbytes, "png")
    store.put("abc", "png", qr.QrParams(size=99), big)
    assert store.get("abc", "png", qr.QrParams(size=99)) is None

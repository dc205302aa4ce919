"""Image uploads end to end, on SQLite and PostgreSQL: POST /api/v1/media and the admin's story
form, with real files made by Pillow here; what is stored, what is served (immutable), what a
story's image becomes; and every hostile file the issue names (empty, SVG and other types, wrong
extension, truncated, decompression bombs, polyglots, oversized, duplicates)."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageDraw

from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.stories.service import get_story
from tests.conftest import BASE_URL

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_URL = re.compile(re.escape(BASE_URL) + r"/media/([0-9a-f]{64})\.(jpg|png|webp|gif)")


# --- real files, made here ---------------------------------------------------------------------


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48), **save) -> bytes:
    """A small picture with some structure (so lossy encoders have work to do)."""
    image = Image.new("RGB", size, (30, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, size[0] - 4, size[1] - 4), fill=(240, 200, 40))
    draw.line((0, 0, size[0], size[1]), fill=(200, 30, 30), width=3)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (20, 10), (i * 40, 80, 0)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height pixels, with a tiny body: a decompression bomb's
    shape (its pixels would be decoded from almost nothing)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def editor(rt) -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, 'ed', 'editor', now=NOW)[1]}"}


def upload(client, data: bytes, headers, name: str = "photo.png", mime: str = "image/png"):
    return client.post(
        "/api/v1/media", data={"file": (io.BytesIO(data), name, mime)}, headers=headers
    )


def refused(response, status: int = 422, code: str = "invalid") -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert set(error["fields"]) == {"file"}, error
    return error["fields"]["file"]


def stored_files(rt) -> list[str]:
    folder = rt.settings.media_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the API -----------------------------------------------------------------------------------


def test_upload_answers_url_type_size_dimensions_and_serves_it_immutable(client, rt, editor):
    r = upload(client, picture("PNG", (64, 48)), editor)
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body) == {"url", "type", "length", "width", "height"}
    assert (body["type"], body["width"], body["height"]) == ("image/png", 64, 48)
    digest, ext = MEDIA_URL.fullmatch(body["url"]).groups()
    assert ext == "png" and r.headers["Location"] == body["url"]
    # Stored under the instance folder by default, named by the SHA-256 of its bytes.
    assert rt.settings.media_dir == rt.settings.instance_dir / "media"
    stored = (rt.settings.media_dir / f"{digest}.png").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == digest and len(stored) == body["length"]

    served = client.get(body["url"].removeprefix(BASE_URL))
    assert served.status_code == 200
    assert served.data == stored
    assert served.mimetype == "image/png"
    assert served.headers["Cache-Control"] == YEAR_IMMUTABLE
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    again = client.get(served.request.path, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    # Public: no credentials needed, nothing else under /media/.
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/media/../instance/syndication.db").status_code == 404
    assert client.get(f"/media/{digest}.PNG").status_code == 404


def test_every_accepted_type_and_what_is_refused(client, editor):
    for fmt, mime, ext in (
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ):
        r = upload(client, picture(fmt, (40, 30)), editor, name="x.bin", mime="text/plain")
        assert r.status_code == 201, (fmt, r.get_data(as_text=True))
        body = r.get_json()
        assert (body["type"], body["width"], body["height"]) == (mime, 40, 30), fmt
        assert body["url"].endswith("." + ext)

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'
    assert "not a JPEG, PNG, WebP or GIF" in refused(
        upload(client, svg, editor, name="logo.svg", mime="image/svg+xml")
    )
    for fmt in ("BMP", "TIFF", "ICO", "PDF"):
        message = refused(upload(client, picture(fmt, (16, 16)), editor, mime="image/png"))
        assert "JPEG, PNG, WebP or GIF" in message, fmt
    html = b"<!doctype html><script>alert(document.cookie)</script>"
    refused(upload(client, html, editor, name="x.png"))


def test_type_comes_from_the_bytes_not_the_name_or_content_type(client, editor):
    r = upload(client, picture("PNG"), editor, name="holiday.jpg", mime="image/jpeg")
    assert r.status_code == 201
    assert r.get_json()["type"] == "image/png" and r.get_json()["url"].endswith(".png")
    r = upload(client, picture("GIF"), editor, name="x.svg", mime="image/svg+xml")
    assert r.status_code == 201 and r.get_json()["type"] == "image/gif"


def test_same_bytes_same_media(client, rt, editor):
    data = picture("JPEG", (50, 50))
    first = upload(client, data, editor, name="a.jpg")
    second = upload(client, data, editor, name="other-name.png", mime="image/png")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert len(stored_files(rt)) == 1
    # A different image is a different file.
    assert upload(client, picture("JPEG", (51, 50)), editor).status_code == 201
    assert len(stored_files(rt)) == 2


def test_empty_truncated_and_corrupt_files(client, rt, editor):
    assert "empty" in refused(upload(client, b"", editor))
    jpeg = picture("JPEG", (300, 200), quality=95)
    assert "truncated or corrupt" in refused(upload(client, jpeg[: len(jpeg) // 2], editor))
    png = picture("PNG", (300, 200))
    refused(upload(client, png[: len(png) - 40], editor))
    refused(upload(client, png[:30], editor))  # the header alone
    corrupt = bytearray(png)
    corrupt[60:90] = b"\xff" * 30
    refused(upload(client, bytes(corrupt), editor))
    assert stored_files(rt) == []


def test_decompression_bombs(client, rt, settings, editor):
    # Pillow's own limit: a header claiming 10 billion pixels, decoded from ~1 KiB.
    message = refused(upload(client, png_claiming(100_000, 100_000), editor))
    assert "too many pixels" in message
    # Within Pillow's limit, beyond media_max_pixels: refused on the header, nothing decoded.
    small = create_app(replace(settings, media_max_pixels=10_000))
    client2 = small.test_client()
    message = refused(upload(client2, png_claiming(200, 100), editor))
    assert "200×100" in message and "media_max_pixels" in message
    # ...counting every frame of an animation.
    frames = [Image.new("RGB", (50, 50), (i * 50, 0, 0)) for i in range(5)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    assert "5 frames" in refused(upload(client2, out.getvalue(), editor))
    assert upload(client2, picture("PNG", (100, 100)), editor).status_code == 201
    small.extensions["syndication"].close()


def test_polyglots_are_stored_as_plain_images(client, rt, editor):
    payload = b"<script>alert(document.domain)</script>"
    # HTML appended after a PNG's end; HTML in a JPEG comment and in EXIF (with a GPS position).
    png = picture("PNG") + b"<html><body>" + payload
    exif = Image.Exif()
    exif[0x010E] = payload.decode()  # ImageDescription
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    jpeg = picture("JPEG", comment=payload, exif=exif.tobytes())
    # A GIF that is also JavaScript (GIF89a/*...*/=alert(1)) with a comment block.
    gif = picture("GIF", comment=payload)
    gif_js = gif[:6] + b"/*" + gif[8:] + b"*/=alert(1);"
    for data in (png, jpeg, gif):
        assert payload in data
        r = upload(client, data, editor)
        assert r.status_code == 201, r.get_data(as_text=True)
        stored = client.get(r.get_json()["url"].removeprefix(BASE_URL)).data
        assert payload not in stored and b"<html" not in stored
        assert b"GPS" not in stored and b"Exif" not in stored
        Image.open(io.BytesIO(stored)).load()  # still the image
    # Still a GIF to Pillow (its width is now "/*" read as a number); stored without the script.
    r = upload(client, gif_js, editor)
    assert r.status_code == 201
    stored = client.get(r.get_json()["url"].removeprefix(BASE_URL)).data
    assert stored.startswith(b"GIF8") and b"alert(1)" not in stored and payload not in stored


def test_exif_orientation_is_applied(client, editor):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    r = upload(client, picture("JPEG", (80, 40), exif=exif.tobytes()), editor)
    body = r.get_json()
    assert (body["width"], body["height"]) == (40, 80)


def test_animations_stay_animated(client, editor):
    r = upload(client, animated_gif(3), editor)
    assert r.status_code == 201
    stored = Image.open(io.BytesIO(client.get(r.get_json()["url"].removeprefix(BASE_URL)).data))
    assert stored.n_frames == 3


def test_oversized_files_and_bodies(settings, editor, rt):
    app = create_app(replace(settings, media_max_bytes=4096, max_body=64 * 1024))
    client = app.test_client()
    big = picture("PNG", (100, 100), compress_level=0)
    assert 4096 < len(big) < 64 * 1024
    message = refused(upload(client, big, editor), 413, "too_large")
    assert "media_max_bytes" in message
    huge = b"\x89PNG" + b"\x00" * 70_000
    r = upload(client, huge, editor)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert stored_files(rt) == []
    app.extensions["syndication"].close()


def test_who_may_upload_and_malformed_requests(client, rt, editor):
    data = picture()
    assert upload(client, data, {}).status_code == 401
    with rt.db.write() as s:
        reader = {"Authorization": f"Bearer {create_token(s, 'r', 'reader', now=NOW)[1]}"}
    assert upload(client, data, reader).status_code == 403
    missing = client.post("/api/v1/media", data={"other": "x"}, headers=editor)
    assert "Missing" in refused(missing)
    as_json = client.post("/api/v1/media", json={"file": "aGVsbG8="}, headers=editor)
    refused(as_json)
    as_text_field = client.post("/api/v1/media", data={"file": "not a file"}, headers=editor)
    refused(as_text_field)
    nul = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), "x.png"), "note": "a\x00b"},
        headers=editor,
    )
    assert nul.status_code == 400
    assert stored_files(rt) == []


def test_openapi_documents_the_upload(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/api/v1/media"]["post"]
    schema_ref = post["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    media_in = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert media_in["required"] == ["file"]
    assert media_in["properties"]["file"]["format"] == "binary"
    assert {"200", "201", "401", "403", "413", "422"} <= set(post["responses"])
    out = doc["components"]["schemas"]["MediaOut"]
    assert set(out["required"]) == {"url", "type", "length", "width", "height"}


# --- stories with uploaded images --------------------------------------------------------------


def test_a_story_image_from_an_upload_gets_its_facts_from_the_file(client, editor):
    media = upload(client, picture("WEBP", (90, 60)), editor).get_json()
    wrong = {"url": media["url"], "caption": "Harbour", "type": "image/gif", "width": 1}
    r = client.post(
        "/api/v1/stories", json={"title": "With picture", "image": wrong}, headers=editor
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["image"] == {**media, "caption": "Harbour"}
    # The upload's answer is a story image as it is.
    r = client.post("/api/v1/stories", json={"title": "As is", "image": media}, headers=editor)
    assert r.get_json()["image"] == media
    # A URL in the media space naming no stored image would be a broken image: refused.
    for url in (BASE_URL + "/media/" + "a" * 64 + ".png", BASE_URL + "/media/x.png"):
        r = client.post(
            "/api/v1/stories", json={"title": "Broken", "image": {"url": url}}, headers=editor
        )
        assert r.status_code == 422 and "image.url" in r.get_json()["error"]["fields"]
    # An image elsewhere stays exactly as given.
    remote = {"url": "https://images.example.org/a.jpg", "type": "image/jpeg", "width": 5}
    r = client.post("/api/v1/stories", json={"title": "Remote", "image": remote}, headers=editor)
    assert r.get_json()["image"] == remote


# --- the admin's story form --------------------------------------------------------------------


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


@pytest.fixture
def signed_in(client, rt) -> str:
    with rt.db.write() as s:
        create_user(s, "ed", PASSWORD, "editor", NOW)
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    client.post("/admin/login", data={"username": "ed", "password": PASSWORD, "csrf_token": csrf})
    return _csrf_of(client.get("/admin/stories/new").get_data(as_text=True))


def test_story_form_uploads_and_fills_the_image_fields(client, rt, signed_in):
    page = client.get("/admin/stories/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input id="image_file" name="image_file" type="file"[^>]*accept=', page)
    form = {
        "csrf_token": signed_in,
        "title": "Boats at dawn",
        "status": "draft",
        "image_caption": "The harbour at six",
        "image_file": (io.BytesIO(picture("JPEG", (120, 80))), "dawn.jpg", "image/jpeg"),
    }
    r = client.post("/admin/stories/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)
    code = r.headers["Location"].rsplit("/", 1)[1]
    with rt.db.read() as s:
        image = get_story(s, code).image
    assert MEDIA_URL.fullmatch(image["url"])
    assert image["caption"] == "The harbour at six"
    assert (image["type"], image["width"], image["height"]) == ("image/jpeg", 120, 80)
    assert image["length"] == len(client.get(image["url"].removeprefix(BASE_URL)).data)
    edit = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert f'value="{image["url"]}"' in edit and 'class="image-preview"' in edit

    # Saved again without a file: the image stays; the typed facts are corrected from the file.
    values = {
        "csrf_token": signed_in,
        "title": "Boats at dawn",
        "status": "draft",
        "image_url": image["url"],
        "image_caption": "The harbour at six",
        "image_type": "image/png",
        "image_width": "1",
        "image_file": (io.BytesIO(b""), ""),
    }
    r = client.post(f"/admin/stories/{code}", data=values, content_type="multipart/form-data")
    assert r.status_code == 303
    with rt.db.read() as s:
        assert get_story(s, code).image == image

    # An image elsewhere, by URL, as before: kept as typed.
    values = {
        "csrf_token": signed_in,
        "title": "Boats at dawn",
        "status": "draft",
        "image_url": "https://images.example.org/boats.jpg",
        "image_width": "640",
    }
    assert client.post(f"/admin/stories/{code}", data=values).status_code == 303
    with rt.db.read() as s:
        assert get_story(s, code).image == {
            "url": "https://images.example.org/boats.jpg",
            "width": 640,
        }
    edit = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert "image-preview" not in edit  # no preview loaded from a host an editor typed


def test_story_form_refuses_a_bad_file_and_keeps_what_was_typed(client, rt, settings, signed_in):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    form = {
        "csrf_token": signed_in,
        "title": "Kept title",
        "status": "draft",
        "image_file": (io.BytesIO(svg), "logo.png", "image/png"),
    }
    r = client.post("/admin/stories/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="image_file-error"' in page and "not a JPEG, PNG, WebP or GIF" in page
    assert 'value="Kept title"' in page
    with rt.db.read() as s:
        from sqlalchemy import func, select

        from syndication.models import Story

        assert s.scalar(select(func.count()).select_from(Story)) == 0
    assert stored_files(rt) == []

    # A good file with another field wrong: the upload is kept in the form shown again.
    form = {
        "csrf_token": signed_in,
        "title": "",
        "status": "draft",
        "image_file": (io.BytesIO(picture("PNG")), "ok.png"),
    }
    r = client.post("/admin/stories/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="title-error"' in page
    [name] = stored_files(rt)
    assert f'value="{BASE_URL}/media/{name}"' in page

    # Too large: 413, said on the field.
    small = create_app(replace(settings, media_max_bytes=2048))
    c2 = small.test_client()
    csrf = _csrf_of(c2.get("/admin/login").get_data(as_text=True))
    c2.post("/admin/login", data={"username": "ed", "password": PASSWORD, "csrf_token": csrf})
    csrf = _csrf_of(c2.get("/admin/stories/new").get_data(as_text=True))
    form = {
        "csrf_token": csrf,
        "title": "Big",
        "status": "draft",
        "image_file": (io.BytesIO(picture("PNG", (200, 200), compress_level=0)), "big.png"),
    }
    r = c2.post("/admin/stories/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 413 and "media_max_bytes" in r.get_data(as_text=True)
    small.extensions["syndication"].close()
    # And without the CSRF token, a multipart form is refused like any other.
    form = {"title": "x", "image_file": (io.BytesIO(picture()), "a.png")}
    r = client.post("/admin/stories/new", data=form, content_type="multipart/form-data")
    assert r.status_code == 400


def test_a_signed_in_editor_uploads_through_the_api_with_the_csrf_header(client, rt, signed_in):
    """What a script on an admin page (a rich-text editor, say) would do: the session cookie
    and the CSRF token in X-CSRF-Token."""
    data = {"file": (io.BytesIO(picture("PNG")), "a.png")}
    r = client.post("/api/v1/media", data=data, headers={"X-CSRF-Token": signed_in})
    assert r.status_code == 201 and MEDIA_URL.fullmatch(r.get_json()["url"])
    data = {"file": (io.BytesIO(picture("GIF")), "b.gif")}
    assert client.post("/api/v1/media", data=data).status_code == 400  # no CSRF token
    assert len(stored_files(rt)) == 1


def test_media_settings(tmp_path):
    from syndication.config import ConfigError, load_settings

    settings = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert settings.media_dir == tmp_path.resolve() / "media"
    assert (settings.media_max_bytes, settings.media_max_pixels) == (8 * 2**20, 50_000_000)
    env = {
        "SYNDICATION_MEDIA_PATH": str(tmp_path / "shared"),
        "SYNDICATION_MEDIA_MAX_BYTES": "4096",
    }
    settings = load_settings(environ=env)
    assert settings.media_dir == (tmp_path / "shared").resolve()
    assert settings.media_max_bytes == 4096
    for name, value in (("media_max_pixels", 89_478_486), ("media_max_bytes", 10)):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value}, environ={})

"""Illustrations for the demo archive, drawn with Pillow: each story's own picture (colours and
shapes from its code, a motif and initial for its section), the same bytes on every run, so the
demo needs no image from anywhere else and its pages load nothing from another host."""

from __future__ import annotations

import functools
import io
import math
import random

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 450
# Per section: (sky/background hues as (r, g, b) pairs, accent colour).
PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    "world": ((52, 120, 190), (170, 215, 235), (246, 196, 69)),
    "business": ((32, 58, 94), (86, 128, 160), (92, 201, 134)),
    "science": ((20, 18, 54), (70, 48, 120), (236, 236, 255)),
    "sport": ((36, 122, 62), (120, 190, 96), (250, 250, 250)),
}


def _shift(colour: tuple[int, int, int], rng: random.Random, spread: int = 28) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-spread, spread))) for c in colour)


def _gradient(top: tuple[int, ...], bottom: tuple[int, ...]) -> Image.Image:
    """A vertical gradient: one column of pixels, repeated across."""
    column = Image.new("RGB", (1, HEIGHT))
    column.putdata(
        [
            tuple(round(a + (b - a) * y / (HEIGHT - 1)) for a, b in zip(top, bottom, strict=True))
            for y in range(HEIGHT)
        ]
    )
    return column.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _world(draw: ImageDraw.ImageDraw, rng: random.Random, accent: tuple[int, ...]) -> None:
    sun_x, sun_r = rng.randint(420, 700), rng.randint(40, 75)
    draw.ellipse((sun_x - sun_r, 110 - sun_r, sun_x + sun_r, 110 + sun_r), fill=accent)
    horizon = rng.randint(260, 300)
    for i, shade in enumerate((30, 20, 10)):
        base = horizon + i * 45
        phase, amp = rng.uniform(0, math.tau), rng.randint(6, 14)
        points = [(x, base + amp * math.sin(x / 60 + phase)) for x in range(0, WIDTH + 20, 20)]
        draw.polygon([*points, (WIDTH, HEIGHT), (0, HEIGHT)], fill=(20 + shade, 70 + shade, 130))
    for _ in range(rng.randint(2, 4)):  # rooftops of the town
        x, w, h = rng.randint(40, 700), rng.randint(40, 90), rng.randint(40, 110)
        draw.rectangle((x, horizon - h, x + w, horizon + 10), fill=(235, 225, 205))
        draw.polygon(
            [(x - 8, horizon - h), (x + w // 2, horizon - h - 30), (x + w + 8, horizon - h)],
            fill=(190, 80, 60),
        )


def _business(draw: ImageDraw.ImageDraw, rng: random.Random, accent: tuple[int, ...]) -> None:
    bars = rng.randint(5, 9)
    step = (WIDTH - 160) // bars
    tops = []
    for i in range(bars):
        h = rng.randint(60, 300)
        x = 120 + i * step
        draw.rectangle((x, HEIGHT - 40 - h, x + step - 18, HEIGHT - 40), fill=(230, 236, 244))
        tops.append((x + (step - 18) // 2, HEIGHT - 40 - h - 20))
    draw.line(tops, fill=accent, width=7, joint="curve")
    for x, y in tops:
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=accent)


def _science(draw: ImageDraw.ImageDraw, rng: random.Random, accent: tuple[int, ...]) -> None:
    for _ in range(70):
        x, y, r = rng.randint(0, WIDTH), rng.randint(0, HEIGHT), rng.choice((1, 1, 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 230))
    cx, cy = rng.randint(380, 520), rng.randint(190, 260)
    for i in range(rng.randint(2, 4)):
        rx, ry = 120 + i * 60, 45 + i * 24
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=accent, width=3)
        angle = rng.uniform(0, math.tau)
        px, py = cx + rx * math.cos(angle), cy + ry * math.sin(angle)
        draw.ellipse((px - 12, py - 12, px + 12, py + 12), fill=(120, 200, 255))
    draw.ellipse((cx - 40, cy - 40, cx + 40, cy + 40), fill=(250, 190, 70))


def _sport(draw: ImageDraw.ImageDraw, rng: random.Random, accent: tuple[int, ...]) -> None:
    for i in range(0, WIDTH, 100):  # mown stripes
        draw.rectangle((i, 0, i + 50, HEIGHT), fill=(46, 140, 72))
    draw.line([(WIDTH // 2, 0), (WIDTH // 2, HEIGHT)], fill=accent, width=5)
    draw.ellipse(
        (WIDTH // 2 - 80, HEIGHT // 2 - 80, WIDTH // 2 + 80, HEIGHT // 2 + 80),
        outline=accent,
        width=5,
    )
    bx, by, r = rng.randint(150, 650), rng.randint(120, 330), rng.randint(28, 40)
    draw.ellipse(
        (bx - r, by - r, bx + r, by + r), fill=(255, 255, 255), outline=(30, 30, 30), width=3
    )
    draw.regular_polygon((bx, by, r // 2), 5, rotation=rng.randint(0, 72), fill=(30, 30, 30))


MOTIFS = {"world": _world, "business": _business, "science": _science, "sport": _sport}


def illustration(code: str, section: str, fmt: str = "JPEG") -> bytes:
    """The picture of story `code` in `section`, encoded as `fmt` (JPEG or WEBP): the same
    bytes for the same arguments (with the same Pillow)."""
    rng = random.Random(f"demo-illustration-{code}")
    top, bottom, accent = PALETTES.get(section, PALETTES["world"])
    image = _gradient(_shift(top, rng), _shift(bottom, rng))
    draw = ImageDraw.Draw(image)
    MOTIFS.get(section, _world)(draw, rng, _shift(accent, rng, 12))
    # The section's initial on a badge, and the story code: no two pictures alike.
    draw.ellipse((24, 24, 124, 124), fill=(255, 255, 255), outline=(20, 20, 20), width=4)
    draw.text((74, 76), section[:1].upper(), font=_font(64), fill=(20, 20, 20), anchor="mm")
    draw.text(
        (WIDTH - 16, HEIGHT - 14),
        f"Demo · {code}",
        font=_font(20),
        fill=(255, 255, 255),
        anchor="rs",
        stroke_width=2,
        stroke_fill=(20, 20, 20),
    )
    out = io.BytesIO()
    image.save(out, fmt, quality=82)
    return out.getvalue()

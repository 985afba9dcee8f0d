#!/usr/bin/env python3
"""Render the example photos in examples/ (whiteboards and notebook pages, ~1200x900 JPEG).

They exist so that `make demo` has something to ingest and search ("budget", "meeting", "roadmap",
"quarterly"); the data engine that trains the models lives in data/. Deterministic: the same fonts
give the same JPEGs.

    .venv/bin/python examples/make_examples.py            # fonts from cache/fonts/npm/
    .venv/bin/python examples/make_examples.py --fonts DIR --out examples/
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parent.parent
SIZE = (1200, 900)
RULE_TOP, RULE_GAP = 150, 96  # ruled lines of the notebook pages

BLACK_MARKER = (30, 32, 40)
BLUE_MARKER = (25, 60, 170)
RED_MARKER = (185, 35, 35)
GREEN_MARKER = (20, 120, 60)
PEN_BLUE = (30, 40, 120)


@dataclass(frozen=True)
class Line:
    text: str
    colour: tuple[int, int, int]
    size: int  # font size in pixels


@dataclass(frozen=True)
class Example:
    name: str
    surface: str  # "whiteboard" or "notebook"
    font: str  # font family folder under cache/fonts/npm
    angle: float  # degrees; boards are rarely photographed straight
    lines: tuple[Line, ...]


EXAMPLES = (
    Example("whiteboard_budget", "whiteboard", "permanent-marker", -2.0, (
        Line("Quarterly budget review", BLUE_MARKER, 74),
        Line("Q3 budget +12%", BLACK_MARKER, 64),
        Line("cut travel costs", RED_MARKER, 64),
        Line("hire two engineers", BLACK_MARKER, 64),
    )),
    Example("notebook_meeting", "notebook", "caveat", 1.5, (
        Line("Meeting notes Monday", PEN_BLUE, 78),
        Line("discuss roadmap with team", PEN_BLUE, 66),
        Line("budget owner is Sam", PEN_BLUE, 66),
        Line("next meeting Friday", RED_MARKER, 66),
    )),
    Example("whiteboard_roadmap", "whiteboard", "kalam", 2.5, (
        Line("Product roadmap", GREEN_MARKER, 84),
        Line("spring: search beta", BLACK_MARKER, 62),
        Line("summer: mobile app", BLACK_MARKER, 62),
        Line("autumn: quarterly review", BLUE_MARKER, 62),
    )),
    Example("notebook_todo", "notebook", "patrick-hand", -1.0, (
        Line("To do this week", PEN_BLUE, 76),
        Line("send budget to finance", PEN_BLUE, 64),
        Line("book meeting room", PEN_BLUE, 64),
        Line("update roadmap slides", PEN_BLUE, 64),
    )),
    Example("whiteboard_planning", "whiteboard", "indie-flower", -3.0, (
        Line("Quarterly planning", RED_MARKER, 82),
        Line("roadmap draft", BLUE_MARKER, 70),
        Line("budget meeting at ten", BLACK_MARKER, 64),
    )),
)


def find_font(fonts_dir: Path, family: str) -> Path:
    folder = fonts_dir / family
    for pattern in ("*-latin-400-normal.ttf", "*-latin-400-normal.woff2", "*.ttf", "*.woff2"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise SystemExit(f"no font for {family!r} in {folder} (run `ocrsearch data fonts` first)")


def background(surface: str, rng: np.random.Generator) -> Image.Image:
    width, height = SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if surface == "whiteboard":
        base = np.array([236, 239, 241], np.float32)
        # a soft glare from the room's lights, and darker corners from the phone's lens
        glare = 14 * np.exp(-(((xs - width * 0.7) / 260) ** 2 + ((ys - height * 0.25) / 180) ** 2))
        vignette = -22 * (((xs - width / 2) / width) ** 2 + ((ys - height / 2) / height) ** 2) * 2
        pixels = base[None, None, :] + (glare + vignette)[:, :, None]
    else:
        base = np.array([246, 241, 226], np.float32)
        vignette = -26 * (((xs - width / 2) / width) ** 2 + ((ys - height / 2) / height) ** 2) * 2
        pixels = base[None, None, :] + vignette[:, :, None]
    pixels += rng.normal(0, 2.0, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if surface == "notebook":
        draw = ImageDraw.Draw(image)
        for y in range(RULE_TOP, height, RULE_GAP):
            draw.line([(0, y), (width, y)], fill=(160, 185, 215), width=2)
        draw.line([(110, 0), (110, height)], fill=(220, 120, 120), width=2)
    return image


def render(example: Example, fonts_dir: Path, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = background(example.surface, rng)
    ink = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(ink)
    font_path = find_font(fonts_dir, example.font)
    left = 150 if example.surface == "notebook" else 110
    y = 110
    for i, line in enumerate(example.lines):
        font = ImageFont.truetype(str(font_path), line.size)
        x = left + int(rng.integers(-15, 25))
        if example.surface == "notebook":
            # sit on every other ruled line (rules are 96 px apart from y=150)
            ascent, _ = font.getmetrics()
            y = RULE_TOP + RULE_GAP * (2 * i + 1) - ascent + 6
        draw.text((x, y), line.text, font=font, fill=(*line.colour, 235))
        if example.surface == "whiteboard":
            y += int(line.size * 1.55)
    ink = ink.rotate(example.angle, resample=Image.BICUBIC, center=(SIZE[0] / 2, SIZE[1] / 2))
    ink = ink.filter(ImageFilter.GaussianBlur(0.6))  # marker edges are soft, and phones smooth them further
    image = Image.alpha_composite(image.convert("RGBA"), ink).convert("RGB")
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fonts", type=Path, default=REPO / "cache" / "fonts" / "npm")
    parser.add_argument("--out", type=Path, default=REPO / "examples")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for seed, example in enumerate(EXAMPLES):
        path = args.out / f"{example.name}.jpg"
        render(example, args.fonts, seed).save(path, quality=85, optimize=True)
        total += path.stat().st_size
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"{len(EXAMPLES)} photos, {total / 2**20:.2f} MiB in all")


if __name__ == "__main__":
    main()

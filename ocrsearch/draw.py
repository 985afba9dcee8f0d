"""Draw matched words on a photo: each word's quad outlined, labelled with what was read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocrsearch.search import WordMatch

# Colour by how a word matched, so a user sees at a glance which boxes are sure hits
KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "exact": (0, 170, 0),
    "phrase": (0, 170, 0),
    "prefix": (0, 120, 220),
    "fuzzy": (240, 140, 0),
    "alternate": (200, 0, 200),
    "alternate_fuzzy": (200, 0, 200),
}


def draw_matches(rgb: np.ndarray, matches: Sequence[WordMatch]) -> Image.Image:
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    short_side = min(image.size)
    line_width = max(2, round(short_side / 300))
    font = ImageFont.load_default(size=max(12, round(short_side / 45)))
    for match in matches:
        colour = KIND_COLOURS.get(match.kind, (255, 0, 0))
        points = [(float(x), float(y)) for x, y in match.quad]
        draw.polygon(points, outline=colour, width=line_width)
        label = f"{match.text} {match.confidence:.2f}"
        x0, y0 = match.box[0], match.box[1]
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        label_y = y0 - (bottom - top) - 2 * line_width
        if label_y < 0:  # no room above the word: put the label below it
            label_y = match.box[3] + line_width
        draw.rectangle((x0, label_y, x0 + right - left + 4, label_y + bottom - top + 4), fill=(255, 255, 255))
        draw.text((x0 + 2 - left, label_y + 2 - top), label, fill=colour, font=font)
    return image


def save_matches(rgb: np.ndarray, matches: Sequence[WordMatch], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    image = draw_matches(rgb, matches)
    if out.suffix.lower() in (".jpg", ".jpeg"):
        image.save(out, quality=90)
    else:
        image.save(out)
    return out

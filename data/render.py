"""Handwriting-like word rendering: glyph jitter, slant, wobble and stroke width on top of fonts,
then a surface, ink, light and camera. `WordRenderer.render()` returns one crop as a detector
would cut it from a phone photo; `render_ink()` gives the bare ink for page composition."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from data import surfaces
from data.fonts import FontSpec
from data.text import TextSampler


@lru_cache(maxsize=4096)
def load_font(path: str, size: int, shaped: bool = True) -> ImageFont.FreeTypeFont:
    """`shaped`: lay text out with Raqm (ligatures, contextual forms, GPOS kerning) where Pillow has
    it. Single glyphs need none of that, and Pillow's basic layout draws them about twice as fast."""
    return ImageFont.truetype(path, size, layout_engine=None if shaped else ImageFont.Layout.BASIC)


def rasterise(font: ImageFont.FreeTypeFont, text: str) -> tuple[np.ndarray, int, int]:
    """`text` as FreeType draws it (uint8 coverage) cropped to its bounding box, and the box's
    offset from the pen position on the baseline."""
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    image = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill=255, anchor="ls")
    return np.asarray(image), left, top


@lru_cache(maxsize=100_000)
def glyph_mask(path: str, size: int, ch: str) -> tuple[np.ndarray, int, int, float]:
    """One glyph's coverage (uint8), its offset from the pen position on the baseline, and its advance.
    Cached: rasterising is most of the cost of a crop, and the same glyphs recur endlessly."""
    font = load_font(path, size, shaped=False)
    mask, left, top = rasterise(font, ch)
    return mask, left, top, font.getlength(ch)


@dataclass
class InkRendering:
    alpha: np.ndarray  # [H, W] float32 coverage in [0, 1], cropped to the ink with `pad` around it
    text: str
    pad: int
    size: int  # font size in pixels


@dataclass
class RenderConfig:
    min_size: int = 26
    max_size: int = 44
    p_glyph_jitter: float = 0.7  # per-glyph baseline/size/spacing jitter (not for script fonts)
    max_slant: float = 0.35  # shear, tan of the angle
    max_rotation: float = 4.0  # degrees
    p_elastic: float = 0.6
    p_neighbours: float = 0.35  # parts of adjacent words or lines inside the crop
    p_ghost: float = 0.5  # ghost text of erased words, on whiteboards
    p_loose: float = 0.5  # loose crop margins, as a detector's boxes
    max_width_ratio: float = 16.0  # width / height cap of a crop (phrases)


INK_THRESHOLD = 38  # uint8 coverage (0.15) above which a pixel counts as ink when cropping


def render_ink(text: str, font: FontSpec, size: int, rng: np.random.Generator,
               cfg: RenderConfig = RenderConfig()) -> InkRendering:
    """Render `text` as a float ink map with handwriting-like irregularities."""
    if font.caps_only:
        text = text.upper()
    stroke = int(rng.integers(0, max(1, int(size * 0.07)) + 1)) if rng.random() < 0.45 else 0
    if "script" in font.flags or rng.random() > cfg.p_glyph_jitter:
        coverage = rasterise(load_font(font.path, size), text)[0]
    else:
        coverage = _jittered_glyphs(text, font.path, size, stroke, rng)
    # Ink stays uint8 up to the final crop: OpenCV's filters and warps are several times faster on
    # it than on float32, and 1/255 steps of coverage are invisible after the camera's JPEG.
    if stroke:  # thicker pen; FreeType's stroker is ~5x slower than a dilation
        coverage = cv2.copyMakeBorder(coverage, stroke, stroke, stroke, stroke, cv2.BORDER_CONSTANT, value=0)
        coverage = cv2.dilate(coverage, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke + 1, 2 * stroke + 1)))
    m = max(2, int(size * 0.1))
    alpha = _geometric(coverage, rng, size, cfg, border=m + 1)
    if rng.random() < 0.2:  # thinner or bolder strokes than the font's
        k = np.ones((2, 2), np.uint8)
        alpha = cv2.erode(alpha, k) if rng.random() < 0.4 else cv2.dilate(alpha, k)
    x, y, w, h = cv2.boundingRect(cv2.threshold(alpha, INK_THRESHOLD, 255, cv2.THRESH_BINARY)[1])
    if w == 0:
        return InkRendering(np.zeros((size, size), np.float32), text, 0, size)
    y0, y1 = max(0, y - m), min(alpha.shape[0], y + h + m)
    x0, x1 = max(0, x - m), min(alpha.shape[1], x + w + m)
    return InkRendering(alpha[y0:y1, x0:x1].astype(np.float32) * np.float32(1 / 255), text, m, size)


def _jittered_glyphs(text: str, path: str, size: int, stroke: int, rng: np.random.Generator) -> np.ndarray:
    """Glyph by glyph, each with its own size, baseline offset and spacing (uint8 coverage, tight
    around the glyphs' boxes)."""
    tracking = rng.normal(0, 0.04) * size
    drift = rng.normal(0, 0.015) * size  # baseline wanders along the word
    jitter_y, jitter_x, jitter_s = rng.uniform(0.01, 0.06, 3) * np.array([size, size, 1.0])
    n = len(text)
    glyph_sizes = np.maximum(8, np.round(size * (1 + rng.normal(0, jitter_s, n)) / 4).astype(int) * 4).tolist()
    baselines = np.round(rng.normal(0, jitter_y, n) + drift * np.arange(n)).astype(int).tolist()
    spacings = (rng.normal(0, jitter_x, n) + stroke + tracking).tolist()
    space_widths = (glyph_mask(path, size, " ")[3] * rng.uniform(0.9, 1.8, n) + tracking).tolist()
    placed = []  # (mask, top, left) on a canvas whose origin is the pen's start on the baseline
    x = 0.0
    for ch, glyph_size, baseline, spacing, space_width in zip(text, glyph_sizes, baselines, spacings, space_widths):
        if ch == " ":
            x += space_width
            continue
        mask, left, top, advance = glyph_mask(path, glyph_size, ch)
        placed.append((mask, baseline + top, int(round(x)) + left))
        x += advance + spacing
    if not placed:
        return np.zeros((1, 1), np.uint8)
    y0 = min(top for _, top, _ in placed)
    x0 = min(left for _, _, left in placed)
    y1 = max(top + mask.shape[0] for mask, top, _ in placed)
    x1 = max(left + mask.shape[1] for mask, _, left in placed)
    coverage = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for mask, top, left in placed:
        paste_max(coverage, mask, top - y0, left - x0)
    return coverage


def _geometric(coverage: np.ndarray, rng: np.random.Generator, size: int, cfg: RenderConfig,
               border: int) -> np.ndarray:
    """Slant, rotation, height and wobble, onto a canvas that holds the result with `border` to spare."""
    h, w = coverage.shape
    shear = rng.uniform(-cfg.max_slant, cfg.max_slant) if rng.random() < 0.7 else 0.0
    angle = np.deg2rad(rng.normal(0, cfg.max_rotation / 2))
    sy = rng.uniform(0.85, 1.15)  # taller or squatter hands
    cos, sin = np.cos(angle), np.sin(angle)
    # Rotation @ shear @ vertical scale.
    a = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, -shear], [0, 1]]) @ np.array([[1, 0], [0, sy]])
    wobble = None
    if rng.random() < cfg.p_elastic:
        # Wobble nodes 0.6 to 1.3 em apart: a few per word height, as in a hand's tremor.
        wobble = rng.uniform(0.5, 2.0) * size / 32, 3.8 * size / int(rng.integers(3, 7))
        border += int(np.ceil(1.9 * wobble[0]))  # bicubic between nodes in [-1, 1] stays within 1.9
    corners = a @ np.array([[0, w, 0, w], [0, 0, h, h]], np.float64)
    low, high = corners.min(axis=1), corners.max(axis=1)
    out_w, out_h = (int(extent) + 2 * border for extent in np.ceil(high - low))
    m = np.hstack([a, (border - low)[:, None]]).astype(np.float32)
    alpha = cv2.warpAffine(coverage, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    if wobble is not None:
        alpha = surfaces.elastic(alpha, rng, amplitude=wobble[0], spacing=wobble[1])
    return alpha


class WordRenderer:
    """Renders labelled word/phrase crops that look cut out of phone photos."""

    def __init__(self, fonts: list[FontSpec], seed: int | None = None, cfg: RenderConfig | None = None,
                 sampler: TextSampler | None = None):
        if not fonts:
            raise ValueError("WordRenderer needs at least one font")
        self.fonts = fonts
        self.cfg = cfg or RenderConfig()
        self.rng = np.random.default_rng(seed)
        self.sampler = sampler or TextSampler(seed=None if seed is None else seed + 1)

    def render(self, text: str | None = None) -> tuple[np.ndarray, str]:
        """One crop (RGB uint8 [H, W, 3]) and its transcription."""
        rng, cfg = self.rng, self.cfg
        font = self.fonts[rng.integers(len(self.fonts))]
        text_was_sampled = text is None
        if text is None:
            text = self.sampler.text(font.charset)
        size = int(rng.integers(cfg.min_size, cfg.max_size + 1)) // 2 * 2
        ink = render_ink(text, font, size, rng, cfg)
        label = ink.text
        alpha = ink.alpha
        h, w = alpha.shape
        kind = surfaces.choose_surface(rng)

        # Crop window around the word, on a canvas with room for neighbours, lines above/below and
        # loose margins: tight or loose, occasionally clipping the ink a little.
        mx, my = int(size * 1.5), int(size * 0.9)
        canvas_h, canvas_w = h + 2 * my, w + 2 * mx
        if rng.random() < cfg.p_loose:
            left, right = rng.uniform(-0.1, 0.6, 2) * size
            top, bottom = rng.uniform(-0.1, 0.45, 2) * size
        else:
            left, right, top, bottom = rng.uniform(-0.1, 0.12, 4) * size
        x0 = int(min(max(mx - left, 0), canvas_w - 2))
        x1 = int(min(max(mx + w + right, x0 + 2), canvas_w))
        y0 = int(min(max(my - top, 0), canvas_h - 2))
        y1 = int(min(max(my + h + bottom, y0 + 2), canvas_h))
        ch, cw = y1 - y0, x1 - x0
        if cw > cfg.max_width_ratio * ch and text_was_sampled:  # too long a phrase: draw another
            return self.render()

        # Only the window of the canvas is materialised: the word and its neighbours are placed
        # relative to it.
        crop_alpha = np.zeros((ch, cw), np.float32)
        paste_max(crop_alpha, alpha, my - y0, mx - x0)
        if rng.random() < cfg.p_neighbours:
            self._add_neighbours(crop_alpha, (my - y0, mx - x0, h, w), font, size)

        background = surfaces.surface(kind, ch, cw, rng, line_pitch=size * rng.uniform(1.2, 1.8))
        if kind == "whiteboard" and rng.random() < cfg.p_ghost:
            background = self._ghost(background, font, size)
        colour = surfaces.ink_colour(rng, kind)
        img = surfaces.composite(background, surfaces.marker_alpha(crop_alpha, rng), colour)
        img = surfaces.lighting(img, rng, strength=0.7)
        return surfaces.camera(img, rng), label

    def _add_neighbours(self, crop: np.ndarray, where: tuple[int, int, int, int], font: FontSpec, size: int) -> None:
        """Parts of adjacent words (left, right) and lines (above, below) that reach into `crop`, the word
        being at `where` (y, x, height, width) in it. A neighbour's edge facing the word is placed
        before it is drawn, so neighbours that would land wholly outside the crop are never rendered."""
        rng = self.rng
        y_word, x_word, h, w = where
        crop_h, crop_w = crop.shape
        for side in ("left", "right", "above", "below"):
            if rng.random() > 0.35:
                continue
            if side in ("left", "right"):  # x: the facing edge
                y = y_word + int(rng.normal(0, 0.1 * size))
                gap = int(rng.uniform(0.35, 0.9) * size)
                x = x_word - gap if side == "left" else x_word + w + gap
                visible = x > 0 if side == "left" else x < crop_w
            else:  # y: the facing edge
                gap = int(rng.uniform(0.0, 0.3) * size)
                y = y_word - gap if side == "above" else y_word + h + gap
                x = x_word + int(rng.uniform(-0.5, 0.5) * w)
                visible = (y > 0 if side == "above" else y < crop_h) and x < crop_w
            if not visible:
                continue
            other = render_ink(self.sampler.token(), font, size, rng, self.cfg).alpha
            oh, ow = other.shape
            paste_max(crop, other, y - oh if side == "above" else y, x - ow if side == "left" else x)

    def _ghost(self, background: np.ndarray, font: FontSpec, size: int) -> np.ndarray:
        """Faint smeared remains of erased words behind the writing."""
        rng = self.rng
        h, w = background.shape[:2]
        ghost = np.zeros((h, w), np.float32)
        other = render_ink(self.sampler.text(), font, int(size * rng.uniform(0.7, 1.4)), rng, self.cfg).alpha
        paste_max(ghost, other, int(rng.uniform(-0.5, 0.5) * h), int(rng.uniform(-0.3, 0.7) * w))
        ghost = cv2.GaussianBlur(ghost, (0, 0), rng.uniform(1.0, 3.0)) * rng.uniform(0.06, 0.22)
        return surfaces.composite(background, ghost, surfaces.ink_colour(rng, "whiteboard"))


def paste_max(canvas: np.ndarray, patch: np.ndarray, y: int, x: int) -> None:
    """Paste `patch` into `canvas` at (y, x) with max blending, clipped at the borders (in place)."""
    H, W = canvas.shape
    h, w = patch.shape
    cy0, cx0 = max(0, y), max(0, x)
    cy1, cx1 = min(H, y + h), min(W, x + w)
    if cy1 <= cy0 or cx1 <= cx0:
        return
    region = canvas[cy0:cy1, cx0:cx1]
    np.maximum(region, patch[cy0 - y:cy1 - y, cx0 - x:cx1 - x], out=region)


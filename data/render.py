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
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=100_000)
def glyph_mask(path: str, size: int, ch: str) -> tuple[np.ndarray, int, int, float]:
    """One glyph's coverage (uint8), its offset from the pen position on the baseline, and its advance.
    Cached: rasterising is most of the cost of a crop, and the same glyphs recur endlessly."""
    font = load_font(path, size)
    left, top, right, bottom = font.getbbox(ch, anchor="ls")
    w, h = max(1, right - left), max(1, bottom - top)
    image = Image.new("L", (w, h), 0)
    ImageDraw.Draw(image).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    return np.asarray(image), left, top, font.getlength(ch)


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


def render_ink(text: str, font: FontSpec, size: int, rng: np.random.Generator,
               cfg: RenderConfig = RenderConfig()) -> InkRendering:
    """Render `text` as a float ink map with handwriting-like irregularities."""
    if font.caps_only:
        text = text.upper()
    pil_font = load_font(font.path, size)
    stroke = int(rng.integers(0, max(1, int(size * 0.07)) + 1)) if rng.random() < 0.45 else 0
    advance_total = pil_font.getlength(text) + 2 * stroke * len(text)
    pad = int(size * 0.8) + stroke
    width = int(advance_total * 1.35 + 2 * pad + size)
    height = int(size * 2.2 + 2 * pad)
    baseline = pad + size * 1.25
    x = float(pad)
    if "script" in font.flags or rng.random() > cfg.p_glyph_jitter:
        canvas = Image.new("L", (width, height), 0)
        ImageDraw.Draw(canvas).text((x, baseline), text, font=pil_font, fill=255, anchor="ls")
        alpha = np.asarray(canvas, dtype=np.float32) / 255.0
    else:
        coverage = np.zeros((height, width), np.uint8)
        tracking = rng.normal(0, 0.04) * size
        drift = rng.normal(0, 0.015) * size  # baseline wanders along the word
        jitter_y, jitter_x, jitter_s = rng.uniform(0.01, 0.06, 3) * np.array([size, size, 1.0])
        for i, ch in enumerate(text):
            if ch == " ":
                x += pil_font.getlength(" ") * rng.uniform(0.9, 1.8) + tracking
                continue
            glyph_size = max(8, int(round(size * (1 + rng.normal(0, jitter_s)) / 4) * 4))
            y = baseline + rng.normal(0, jitter_y) + drift * i
            mask, left, top, advance = glyph_mask(font.path, glyph_size, ch)
            paste_max(coverage, mask, int(round(y)) + top, int(round(x)) + left)
            x += advance + stroke + tracking + rng.normal(0, jitter_x)
        alpha = coverage.astype(np.float32) / 255.0
    if stroke:  # thicker pen; FreeType's stroker is ~5x slower than a dilation
        alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke + 1, 2 * stroke + 1)))
    alpha = _geometric(alpha, rng, size, cfg)
    if rng.random() < 0.2:  # thinner or bolder strokes than the font's
        k = np.ones((2, 2), np.uint8)
        alpha = cv2.erode(alpha, k) if rng.random() < 0.4 else cv2.dilate(alpha, k)
    ys, xs = np.nonzero(alpha > 0.15)
    if len(xs) == 0:
        return InkRendering(np.zeros((size, size), np.float32), text, 0, size)
    m = max(2, int(size * 0.1))
    y0, y1 = max(0, ys.min() - m), min(alpha.shape[0], ys.max() + 1 + m)
    x0, x1 = max(0, xs.min() - m), min(alpha.shape[1], xs.max() + 1 + m)
    return InkRendering(np.ascontiguousarray(alpha[y0:y1, x0:x1]), text, m, size)


def _geometric(alpha: np.ndarray, rng: np.random.Generator, size: int, cfg: RenderConfig) -> np.ndarray:
    h, w = alpha.shape
    shear = rng.uniform(-cfg.max_slant, cfg.max_slant) if rng.random() < 0.7 else 0.0
    angle = np.deg2rad(rng.normal(0, cfg.max_rotation / 2))
    sy = rng.uniform(0.85, 1.15)  # taller or squatter hands
    cos, sin = np.cos(angle), np.sin(angle)
    # Rotation @ shear @ vertical scale, about the centre.
    a = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, -shear], [0, 1]]) @ np.array([[1, 0], [0, sy]])
    centre = np.array([w / 2, h / 2])
    t = centre - a @ centre
    m = np.hstack([a, t[:, None]]).astype(np.float32)
    alpha = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < cfg.p_elastic:
        alpha = surfaces.elastic(alpha, rng, amplitude=rng.uniform(0.5, 2.0) * size / 32, cells=int(rng.integers(3, 7)))
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

        # Canvas with room for neighbours, lines above/below and loose margins.
        mx, my = int(size * 1.5), int(size * 0.9)
        canvas = np.zeros((h + 2 * my, w + 2 * mx), np.float32)
        canvas[my:my + h, mx:mx + w] = alpha
        if rng.random() < cfg.p_neighbours:
            self._add_neighbours(canvas, (my, mx, h, w), font, size)

        # Crop window around the word: tight or loose, occasionally clipping the ink a little.
        if rng.random() < cfg.p_loose:
            left, right = rng.uniform(-0.1, 0.6, 2) * size
            top, bottom = rng.uniform(-0.1, 0.45, 2) * size
        else:
            left, right, top, bottom = rng.uniform(-0.1, 0.12, 4) * size
        x0 = int(np.clip(mx - left, 0, canvas.shape[1] - 2))
        x1 = int(np.clip(mx + w + right, x0 + 2, canvas.shape[1]))
        y0 = int(np.clip(my - top, 0, canvas.shape[0] - 2))
        y1 = int(np.clip(my + h + bottom, y0 + 2, canvas.shape[0]))
        crop_alpha = canvas[y0:y1, x0:x1]
        ch, cw = crop_alpha.shape
        if cw > cfg.max_width_ratio * ch and text_was_sampled:  # too long a phrase: draw another
            return self.render()

        background = surfaces.surface(kind, ch, cw, rng, line_pitch=size * rng.uniform(1.2, 1.8))
        if kind == "whiteboard" and rng.random() < cfg.p_ghost:
            background = self._ghost(background, font, size)
        colour = surfaces.ink_colour(rng, kind)
        img = surfaces.composite(background, surfaces.marker_alpha(crop_alpha, rng), colour)
        img = surfaces.lighting(img, rng, strength=0.7)
        return surfaces.camera(img, rng), label

    def _add_neighbours(self, canvas: np.ndarray, where: tuple[int, int, int, int], font: FontSpec, size: int) -> None:
        rng = self.rng
        my, mx, h, w = where
        for side in ("left", "right", "above", "below"):
            if rng.random() > 0.35:
                continue
            other = render_ink(self.sampler.token(), font, size, rng, self.cfg).alpha
            oh, ow = other.shape
            gap = int(rng.uniform(0.35, 0.9) * size)
            if side == "left":
                y, x = my + int(rng.normal(0, 0.1 * size)), mx - gap - ow
            elif side == "right":
                y, x = my + int(rng.normal(0, 0.1 * size)), mx + w + gap
            elif side == "above":
                y, x = my - oh - int(rng.uniform(0.0, 0.3) * size), mx + int(rng.uniform(-0.5, 0.5) * w)
            else:
                y, x = my + h + int(rng.uniform(0.0, 0.3) * size), mx + int(rng.uniform(-0.5, 0.5) * w)
            paste_max(canvas, other, y, x)

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


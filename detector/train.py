"""Tuning the ink-derived detector's thresholds on pages the project renders itself.

No learned detector ships (the ink-derived one needs no weights). Its grouping thresholds are
checked on a small set of rendered pages (`render_tune_set`: words of the training fonts laid out
in lines on the data engine's surfaces, with underlines, frames and checkboxes as distractors,
rotated, lit and JPEG-compressed), written in the project's `pages.jsonl` + `masks/` format so the
binarizer trainer can use the same folder. Never tune on synth-dev or stanford1905/dev.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data import surfaces
from data.fonts import FontSpec, load_fonts
from data.render import RenderConfig, render_ink
from data.text import TextSampler


@dataclass(frozen=True)
class TunePageConfig:
    """Layout of a rendered tuning page."""

    width: int = 1800
    height: int = 1350
    min_size: int = 28  # font size range in px at page scale
    max_size: int = 64
    gap: tuple[float, float] = (0.35, 1.0)  # word gap in font sizes
    line_pitch: tuple[float, float] = (1.25, 1.9)  # line pitch in font sizes
    max_angle: float = 8.0  # page rotation, degrees
    p_underline: float = 0.08  # per word
    p_frame: float = 0.05
    p_checkbox: float = 0.15  # per line


def _paste(canvas: np.ndarray, patch: np.ndarray, y: int, x: int) -> bool:
    h, w = patch.shape
    if y < 0 or x < 0 or y + h > canvas.shape[0] or x + w > canvas.shape[1]:
        return False
    np.maximum(canvas[y : y + h, x : x + w], patch, out=canvas[y : y + h, x : x + w])
    return True


def render_tune_page(
    fonts: list[FontSpec], rng: np.random.Generator, sampler: TextSampler, cfg: TunePageConfig = TunePageConfig()
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One page: (RGB uint8 [H,W,3], ink mask uint8 [H,W] 255 = ink, words with tight boxes)."""
    H, W = cfg.height, cfg.width
    words_alpha = np.zeros((H, W), np.float32)  # text only
    extra_alpha = np.zeros((H, W), np.float32)  # distractors: underlines, frames, checkboxes
    word_maps: list[tuple[str, np.ndarray]] = []  # per-word alpha in page coordinates (sparse via slices)
    rcfg = RenderConfig(max_rotation=2.0)
    font = fonts[rng.integers(len(fonts))]
    size = int(rng.integers(cfg.min_size, cfg.max_size + 1))
    y = int(rng.uniform(0.05, 0.15) * H)
    while y < H * 0.85:
        x = int(rng.uniform(0.05, 0.2) * W)
        thick = max(2, size // 12)
        if rng.random() < cfg.p_checkbox:
            s = int(size * 0.55)
            cv2.rectangle(extra_alpha, (x, y + size // 3), (x + s, y + size // 3 + s), 1.0, thick)
            x += int(s + size * 0.5)
        n_words = int(rng.integers(1, 7))
        row_h = 0
        for _ in range(n_words):
            ink = render_ink(sampler.token(), font, size, rng, rcfg)
            a = ink.alpha
            if x + a.shape[1] > W * 0.95:
                break
            if not _paste(words_alpha, a, y, x):
                break
            word_maps.append((ink.text, (y, x, a)))
            ys, xs = np.nonzero(a > 0.5)
            if len(xs) and rng.random() < cfg.p_underline:
                yy = y + int(ys.max()) + thick + 2
                cv2.line(extra_alpha, (x + int(xs.min()), yy), (x + int(xs.max()), yy), 1.0, thick)
            elif len(xs) and rng.random() < cfg.p_frame:
                m = int(size * 0.25)
                cv2.rectangle(extra_alpha, (x + int(xs.min()) - m, y + int(ys.min()) - m),
                              (x + int(xs.max()) + m, y + int(ys.max()) + m), 1.0, thick)
            x += a.shape[1] - 2 * ink.pad + int(rng.uniform(*cfg.gap) * size)
            row_h = max(row_h, a.shape[0])
        y += int(rng.uniform(*cfg.line_pitch) * size)
        if rng.random() < 0.15:  # another hand/size further down
            size = int(rng.integers(cfg.min_size, cfg.max_size + 1))
    # rotate the whole sheet
    angle = rng.uniform(-cfg.max_angle, cfg.max_angle)
    rot = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
    warp = lambda m: cv2.warpAffine(m, rot, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)  # noqa: E731
    kind = str(rng.choice(["whiteboard", "flipchart", "sticky", "ruled", "squared", "paper", "kraft"]))
    background = surfaces.surface(kind, H, W, rng, line_pitch=size * rng.uniform(1.2, 1.8))
    alpha_all = np.maximum(warp(words_alpha), warp(extra_alpha))
    colour = surfaces.ink_colour(rng, kind)
    img = surfaces.composite(background, surfaces.marker_alpha(alpha_all, rng), colour)
    img = surfaces.lighting(img, rng, strength=0.8)
    img = np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1)
    rgb = (img * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))])
    rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    mask = (alpha_all > 0.5).astype(np.uint8) * 255
    words = []
    for text, (wy, wx, a) in word_maps:
        one = np.zeros((H, W), np.float32)
        one[wy : wy + a.shape[0], wx : wx + a.shape[1]] = a
        one = warp(one)
        ys, xs = np.nonzero(one > 0.5)
        if len(xs) < 4:
            continue
        pts = np.stack([xs, ys], 1).astype(np.float32)
        quad = cv2.boxPoints(cv2.minAreaRect(pts))
        words.append({
            "text": text,
            "box": [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)],
            "poly": [[round(float(px), 1), round(float(py), 1)] for px, py in quad],
        })
    return rgb, mask, words


def render_tune_set(out_dir: Path, n: int, fonts_source: Path, seed: int = 0) -> Path:
    """Write `n` rendered pages to out_dir (pages/, masks/, pages.jsonl); returns the jsonl path."""
    out_dir = Path(out_dir)
    (out_dir / "pages").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    fonts = load_fonts(fonts_source)
    rng = np.random.default_rng(seed)
    sampler = TextSampler(seed=seed + 1)
    jsonl = out_dir / "pages.jsonl"
    with jsonl.open("w") as f:
        for i in range(n):
            rgb, mask, words = render_tune_page(fonts, rng, sampler)
            name = f"t{i:04d}"
            cv2.imwrite(str(out_dir / "pages" / f"{name}.jpg"), rgb[:, :, ::-1])
            cv2.imwrite(str(out_dir / "masks" / f"{name}.png"), mask)
            row = {"image": f"pages/{name}.jpg", "width": rgb.shape[1], "height": rgb.shape[0], "words": words, "lines": []}
            f.write(json.dumps(row) + "\n")
    return jsonl


__all__ = ["TunePageConfig", "render_tune_page", "render_tune_set"]

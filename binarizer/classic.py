"""Classical ink map: background-normalised contrast, no learned weights.

The background (paper, board, sticky note) is estimated on a small copy of the photo with a
morphological closing (which erases dark strokes thinner than the kernel) followed by a median
blur; dividing the photo by it flattens shadows, glare and coloured paper. Ink is what stays darker
than its own background in any colour channel, so coloured markers on coloured notes still show.
All per-pixel work is done with OpenCV on uint8 at a reduced working size, so a 12 MP photo costs
a few tens of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ClassicConfig:
    """Defaults for the classical binarizer, in one place."""

    work_side: int = 1600  # longest side the ink map is computed at
    bg_side: int = 400  # longest side the background is estimated at
    bg_kernel: int = 7  # closing kernel at bg_side (px): erases strokes up to ~4x that wide at work_side
    low: float = 0.12  # relative darkening mapped to probability 0
    high: float = 0.32  # relative darkening mapped to probability 1
    offset: int = 24  # added to photo and background before dividing: damps noise where both are dark


def resize_max_side(img: np.ndarray, side: int, interpolation: int = cv2.INTER_AREA) -> tuple[np.ndarray, float]:
    """Downscale so the longest side is at most `side` (never upscale); returns (image, scale)."""
    h, w = img.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return img, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=interpolation), scale


def estimate_background(rgb: np.ndarray, cfg: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """Background colour [H,W,3] uint8 at the size of `rgb`: dark strokes closed away."""
    small, _ = resize_max_side(rgb, cfg.bg_side)  # [h,w,3] uint8
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.bg_kernel, cfg.bg_kernel))
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)  # [h,w,3]
    closed = cv2.medianBlur(closed, 5)
    # upscaling blurs the background across the edge of a page or board, so desk pixels next to a
    # bright page get a too-bright background and read as a thin line of ink along the edge; the
    # darkest background nearby is safe there and changes little on smooth paper
    closed = cv2.erode(closed, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    return cv2.resize(closed, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


def darkness(rgb: np.ndarray, cfg: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """Relative darkening against the local background [H,W] uint8 (0 = background, 255 = black)."""
    bg = cv2.add(estimate_background(rgb, cfg), (cfg.offset,) * 3)  # [H,W,3] uint8
    ratio = cv2.divide(cv2.add(rgb, (cfg.offset,) * 3), bg, scale=255)  # [H,W,3] uint8, saturates at 255 (brighter than bg)
    r, g, b = cv2.split(ratio)
    return 255 - cv2.min(cv2.min(r, g), b)  # [H,W]; the most contrasting channel


def darkness_to_prob_lut(cfg: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """[256] float32: darkness byte -> ink probability (linear ramp between cfg.low and cfg.high)."""
    d = np.arange(256, dtype=np.float32) / 255.0
    return np.clip((d - cfg.low) / (cfg.high - cfg.low), 0.0, 1.0).astype(np.float32)


def classic_ink(rgb: np.ndarray, cfg: ClassicConfig = ClassicConfig(), full_size: bool = True) -> np.ndarray:
    """Ink probability [H,W] float32 in [0,1], computed at `cfg.work_side`.

    With `full_size` the map is resized back to the photo's size; otherwise it stays at the working
    size (same aspect ratio), which the detector accepts directly.
    """
    work, _ = resize_max_side(rgb, cfg.work_side)  # [h,w,3] uint8
    work = cv2.GaussianBlur(work, (3, 3), 0)  # JPEG and sensor noise
    d = darkness(work, cfg)  # [h,w] uint8
    lut = np.round(darkness_to_prob_lut(cfg) * 255).astype(np.uint8)
    prob8 = cv2.LUT(d, lut)  # [h,w] uint8
    if full_size and prob8.shape != rgb.shape[:2]:
        prob8 = cv2.resize(prob8, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return prob8.astype(np.float32) * np.float32(1.0 / 255.0)

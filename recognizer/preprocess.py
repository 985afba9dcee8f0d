"""Crop -> model input. Training data and inference go through the same functions."""

from __future__ import annotations

import cv2
import numpy as np

HEIGHT = 32
MIN_WIDTH = 16
MAX_WIDTH = 1024  # whole handwritten lines reach ~30x the height
# trim_margins: a row holds ink when this share of its pixels are ink (on our renders, 0.02 read
# the same; 2-5% of the inkiest row's ink within 0.003 CER; 10% of it worse)
ROW_INK_SHARE = 0.01


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB/RGBA/gray uint8 [H, W(, C)] -> gray uint8 [H, W]."""
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY)


def to_gray_strip(image: np.ndarray, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> np.ndarray:
    """Any RGB/RGBA/gray uint8 crop -> gray uint8 [height, W], aspect ratio kept."""
    image = to_gray(image)
    h, w = image.shape[:2]
    width = int(np.clip(round(w * height / max(h, 1)), MIN_WIDTH, max_width))
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def trim_margins(image: np.ndarray, margin: float = 0.12) -> np.ndarray:
    """A crop [H, W(, C)] -> the rows of its ink band plus `margin` of the band's height above and
    below. A loose crop's empty rows shrink its writing in the 32 px strip; cut off, a word reads
    better (see RecognizerConfig.trim_margins). Crops with no clear ink come back whole."""
    gray = to_gray(image)
    # ink: pixels far from the background (the median), dark on light or light on dark
    deviation = cv2.absdiff(gray, np.full_like(gray, int(np.median(gray))))
    threshold = max(12.0, 0.35 * float(np.percentile(deviation, 99.5)))
    ink_per_row = np.count_nonzero(deviation > threshold, axis=1)  # [H]
    rows = np.flatnonzero(ink_per_row >= max(1.0, ROW_INK_SHARE * gray.shape[1]))
    if len(rows) < 4:
        return image
    pad = int(round(margin * (rows[-1] - rows[0] + 1))) + 1
    return image[max(0, rows[0] - pad): rows[-1] + 1 + pad]


def stretch_width(strip: np.ndarray, factor: float, max_width: int = MAX_WIDTH) -> np.ndarray:
    """Gray strip [H, W] -> [H, W * factor] (at most max_width): the same ink, wider (factor > 1)
    or narrower letters."""
    width = int(np.clip(round(strip.shape[1] * factor), MIN_WIDTH, max_width))
    return cv2.resize(strip, (width, strip.shape[0]), interpolation=cv2.INTER_LINEAR)


def normalise(strip: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Per-crop contrast normalisation: ink polarity and contrast vary wildly between photos.
    Writes into `out` (float32, the strip's shape) when given."""
    # cv2 takes the mean and (population) std in one pass, ~15x faster than numpy on a strip.
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(strip))
    out = np.subtract(strip, np.float32(mean), out=out, dtype=np.float32)
    return np.divide(out, np.float32(max(std, 8.0)), out=out)


def collate_strips(strips: list[np.ndarray], right_margin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gray strips of equal height -> padded float32 batch [B, 1, H, Wmax + right_margin] and int64
    widths [B]. Padding is 0, the normalised mean, so it reads as empty background."""
    widths = [s.shape[1] for s in strips]
    batch = np.zeros((len(strips), 1, strips[0].shape[0], max(widths) + right_margin), np.float32)
    for i, s in enumerate(strips):
        normalise(s, out=batch[i, 0, :, : s.shape[1]])
    return batch, np.asarray(widths, dtype=np.int64)

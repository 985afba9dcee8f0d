"""Surfaces people write on, inks they write with, and what a phone camera does to them.

Everything works on float32 RGB images in [0, 1] shaped [H, W, 3] and on float32 ink alpha maps
[H, W]; the same functions serve word crops and whole pages.
"""

from __future__ import annotations

import cv2
import numpy as np

# name -> (weight, colour sampler); whiteboards and notebooks dominate real photo libraries.
SURFACE_WEIGHTS = {
    "whiteboard": 0.30,
    "flipchart": 0.12,
    "sticky": 0.12,
    "ruled": 0.16,
    "squared": 0.08,
    "paper": 0.12,
    "kraft": 0.03,
    "chalkboard": 0.04,
    "screen": 0.03,
}
STICKY_COLOURS = np.array([
    [1.00, 0.94, 0.45], [1.00, 0.80, 0.85], [0.70, 0.95, 0.70], [0.65, 0.85, 1.00],
    [1.00, 0.78, 0.45], [0.85, 0.75, 1.00], [1.00, 0.98, 0.70],
], dtype=np.float32)
# Marker and pen inks (RGB 0..1): black, blue, red, green, purple, brown, dark grey, pencil.
INK_COLOURS = np.array([
    [0.08, 0.08, 0.10], [0.10, 0.18, 0.55], [0.75, 0.12, 0.12], [0.08, 0.45, 0.20],
    [0.40, 0.15, 0.50], [0.40, 0.25, 0.12], [0.25, 0.25, 0.28], [0.05, 0.25, 0.75],
    [0.02, 0.05, 0.30], [0.85, 0.35, 0.05], [0.45, 0.45, 0.48],
], dtype=np.float32)
INK_WEIGHTS = np.array([0.30, 0.22, 0.12, 0.09, 0.05, 0.03, 0.06, 0.05, 0.04, 0.02, 0.02])
CHALK_COLOURS = np.array([[0.95, 0.95, 0.92], [0.95, 0.90, 0.50], [0.70, 0.85, 1.0]], dtype=np.float32)


SURFACE_NAMES = list(SURFACE_WEIGHTS)
# Cumulative weights: drawing from them by bisection picks what rng.choice(p=...) would, from the same
# uniform draw, without its per-call validation of p (most of the cost of a draw).
SURFACE_CDF = np.cumsum(list(SURFACE_WEIGHTS.values())) / sum(SURFACE_WEIGHTS.values())
INK_CDF = np.cumsum(INK_WEIGHTS) / INK_WEIGHTS.sum()


def weighted_index(rng: np.random.Generator, cdf: np.ndarray) -> int:
    return int(cdf.searchsorted(rng.random(), side="right"))


def choose_surface(rng: np.random.Generator) -> str:
    return SURFACE_NAMES[weighted_index(rng, SURFACE_CDF)]


def ink_colour(rng: np.random.Generator, surface: str) -> np.ndarray:
    if surface == "chalkboard":
        return CHALK_COLOURS[rng.integers(len(CHALK_COLOURS))] * rng.uniform(0.8, 1.0)
    if surface == "screen":
        return np.full(3, rng.uniform(0.85, 1.0), np.float32)  # light text on a dark slide
    c = INK_COLOURS[weighted_index(rng, INK_CDF)]
    return np.clip(c + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)


def low_freq_noise(h: int, w: int, rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """Smooth random field in [-1, 1], [h, w]: shading, paper texture, marker streaks."""
    gh, gw = max(2, cells), max(2, int(cells * w / max(h, 1)))
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def surface(kind: str, h: int, w: int, rng: np.random.Generator, line_pitch: float = 40.0) -> np.ndarray:
    """A blank writing surface [h, w, 3] float32."""
    if kind == "whiteboard":
        base = np.array([0.93, 0.94, 0.95], np.float32) * rng.uniform(0.85, 1.05) + rng.normal(0, 0.015, 3)
    elif kind == "flipchart":
        base = np.array([0.96, 0.95, 0.90], np.float32) * rng.uniform(0.85, 1.02)
    elif kind == "sticky":
        base = STICKY_COLOURS[rng.integers(len(STICKY_COLOURS))] * rng.uniform(0.85, 1.0)
    elif kind == "kraft":
        base = np.array([0.72, 0.58, 0.42], np.float32) * rng.uniform(0.85, 1.1)
    elif kind == "chalkboard":
        base = np.array([0.15, 0.22, 0.18], np.float32) if rng.random() < 0.5 else np.array([0.12, 0.12, 0.13], np.float32)
    elif kind == "screen":
        base = np.array([0.10, 0.15, 0.30], np.float32) * rng.uniform(0.5, 1.5)
    else:  # paper, ruled, squared
        base = np.array([0.97, 0.97, 0.95], np.float32) * rng.uniform(0.82, 1.02) + rng.normal(0, 0.01, 3)
    shading = low_freq_noise(h, w, rng, cells=int(rng.integers(2, 8))) * rng.uniform(0.0, 0.04)  # texture
    if kind == "whiteboard" and rng.random() < 0.5:  # glossy board: soft sheen bands
        shading += low_freq_noise(h, w, rng, cells=2) * rng.uniform(0.02, 0.06)
    img = cv2.add(spread(shading, 3), scalar(np.clip(base, 0, 1)))
    if kind in ("ruled", "squared") or (kind == "flipchart" and rng.random() < 0.3):
        _draw_rules(img, kind, rng, line_pitch)
    return np.clip(img, 0, 1, out=img)


def _draw_rules(img: np.ndarray, kind: str, rng: np.random.Generator, pitch: float) -> None:
    h, w = img.shape[:2]
    colour = np.array([0.55, 0.70, 0.90], np.float32) if rng.random() < 0.75 else np.array([0.6, 0.6, 0.6], np.float32)
    strength = rng.uniform(0.25, 0.7)
    thickness = 1 if rng.random() < 0.8 else 2
    pitch = max(8.0, pitch * rng.uniform(0.8, 1.25))
    offset = rng.uniform(0, pitch)
    y = offset
    while y < h:
        yi = int(y)
        img[yi:yi + thickness] = img[yi:yi + thickness] * (1 - strength) + colour * strength
        y += pitch
    if kind == "squared":
        x = rng.uniform(0, pitch)
        while x < w:
            xi = int(x)
            img[:, xi:xi + thickness] = img[:, xi:xi + thickness] * (1 - strength) + colour * strength
            x += pitch
    elif kind == "ruled" and rng.random() < 0.15:
        xi = int(rng.uniform(0, w))
        img[:, xi:xi + 2] = img[:, xi:xi + 2] * 0.4 + np.array([0.9, 0.3, 0.3], np.float32) * 0.6


def marker_alpha(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Modulate ink coverage like a drying marker or uneven pen pressure."""
    h, w = alpha.shape
    if rng.random() < 0.5:
        streak = 1 - rng.uniform(0.0, 0.45) * (low_freq_noise(h, w, rng, cells=int(rng.integers(2, 6))) * 0.5 + 0.5)
        alpha = alpha * streak
    return alpha * rng.uniform(0.75, 1.0)


def spread(plane: np.ndarray, channels: int) -> np.ndarray:
    """A single-channel map repeated over `channels`, for OpenCV's per-element arithmetic, which
    does not broadcast (numpy's broadcasting over a trailing axis of 3 is several times slower)."""
    return cv2.merge([plane] * channels)


def scalar(colour: np.ndarray) -> tuple[float, float, float, float]:
    """An RGB colour as an OpenCV scalar, which OpenCV's arithmetic applies to every pixel."""
    return float(colour[0]), float(colour[1]), float(colour[2]), 0.0


def composite(background: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Lay ink of `colour` with coverage `alpha` [H, W] onto `background` [H, W, 3]."""
    coverage = spread(alpha.astype(background.dtype, copy=False), 3)
    return cv2.add(background, cv2.multiply(cv2.subtract(scalar(colour), background), coverage))


def lighting(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Uneven light, shadows and glare, as on a phone photo of a board or a desk."""
    h, w = img.shape[:2]
    # Every effect is a function of x + y or of x times y, so all of them are built from a row and
    # a column; together they scale each pixel and add light to it: img * gain + offset.
    xx = np.arange(w, dtype=np.float32)[None, :] / max(w, 1)
    yy = np.arange(h, dtype=np.float32)[:, None] / max(h, 1)
    gain = np.ones((h, w), np.float32)
    if rng.random() < 0.8:  # gradient of light across the surface
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xx + np.sin(angle) * yy
        ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
        gain *= 1 - strength * rng.uniform(0.0, 0.45) * ramp
    if rng.random() < 0.3 * strength:  # a hard-edged shadow (hand, phone, frame) softened by blur
        angle = rng.uniform(0, 2 * np.pi)
        side = np.cos(angle) * (xx - rng.uniform(0.2, 0.8)) + np.sin(angle) * (yy - rng.uniform(0.2, 0.8))
        soft = rng.uniform(0.02, 0.2)
        mask = 1 / (1 + np.exp(-side / soft))
        gain *= 1 - rng.uniform(0.2, 0.55) * mask
    offset = None
    if rng.random() < 0.3 * strength:  # glare: a bright spot that washes ink out
        cx, cy = rng.uniform(-0.2, 1.2), rng.uniform(-0.2, 1.2)
        sx, sy = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6)
        glare = rng.uniform(0.2, 0.8) * np.exp(-((xx - cx) / sx) ** 2) * np.exp(-((yy - cy) / sy) ** 2)
        gain *= 1 - glare  # img + glare * (1.02 - img)
        offset = 1.02 * glare
    channels = img.shape[2]
    out = cv2.multiply(img, spread(gain, channels))
    if offset is not None:
        out = cv2.add(out, spread(offset, channels))
    return np.clip(out.reshape(img.shape), 0, 1)  # OpenCV drops a single channel's axis


def camera(img: np.ndarray, rng: np.random.Generator, min_height: int = 0) -> np.ndarray:
    """Blur, sensor noise, low resolution and JPEG, returning uint8 RGB."""
    h, w = img.shape[:2]
    r = rng.random()
    if r < 0.35:
        sigma = rng.uniform(0.3, 1.4) * max(h, 16) / 48
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    elif r < 0.45:
        k = int(rng.integers(2, 5))
        kernel = np.zeros((k, k), np.float32)
        if rng.random() < 0.5:
            kernel[k // 2, :] = 1 / k
        else:
            np.fill_diagonal(kernel, 1 / k)
        img = cv2.filter2D(img, -1, kernel)
    if rng.random() < 0.35 and h > 16:  # phone crops of distant words have few pixels
        scale = rng.uniform(0.35, 0.8)
        small = cv2.resize(img, (max(4, int(w * scale)), max(max(4, min_height), int(h * scale))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(0.005, 0.035))
    out = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.55:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 92))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def elastic(alpha: np.ndarray, rng: np.random.Generator, amplitude: float, spacing: float) -> np.ndarray:
    """Smooth random displacement of ink: wobbly strokes that fonts lack. The displacement is drawn
    independently on a grid of nodes `spacing` pixels apart and interpolated bicubically in between,
    so the wobble has the same scale whatever the size of `alpha`."""
    h, w = alpha.shape
    if amplitude <= 0:
        return alpha
    gh, gw = int(h / spacing) + 2, int(w / spacing) + 2
    nodes = rng.uniform(-amplitude, amplitude, (gh, gw, 2)).astype(np.float32)
    field = cv2.resize(nodes, (int(gw * spacing), int(gh * spacing)), interpolation=cv2.INTER_CUBIC)
    # A window of the field, at a random phase to the nodes; each output pixel reads the ink at its
    # own position plus the shift (one CV_32FC2 map).
    y0, x0 = rng.integers(0, field.shape[0] - h + 1), rng.integers(0, field.shape[1] - w + 1)
    shift = field[y0:y0 + h, x0:x0 + w]
    shift[..., 0] += np.arange(w, dtype=np.float32)
    shift[..., 1] += np.arange(h, dtype=np.float32)[:, None]
    return cv2.remap(alpha, shift, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

"""Crop -> model input. Training data and inference go through the same functions."""

from __future__ import annotations

import cv2
import numpy as np
import torch

HEIGHT = 32
MIN_WIDTH = 16
MAX_WIDTH = 1024  # whole handwritten lines reach ~30x the height


def to_gray_strip(image: np.ndarray, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> np.ndarray:
    """Any RGB/RGBA/gray uint8 crop -> gray uint8 [height, W], aspect ratio kept."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY)
    h, w = image.shape[:2]
    width = int(np.clip(round(w * height / max(h, 1)), MIN_WIDTH, max_width))
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def normalise(strip: np.ndarray) -> np.ndarray:
    """Per-crop contrast normalisation: ink polarity and contrast vary wildly between photos."""
    x = strip.astype(np.float32)
    std = x.std()
    return (x - x.mean()) / max(std, 8.0)


def collate_strips(strips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Gray strips of equal height -> padded batch [B, 1, H, Wmax] and widths [B].
    Padding is 0, the normalised mean, so it reads as empty background."""
    widths = torch.tensor([s.shape[1] for s in strips], dtype=torch.long)
    batch = torch.zeros(len(strips), 1, strips[0].shape[0], int(widths.max()))
    for i, s in enumerate(strips):
        batch[i, 0, :, : s.shape[1]] = torch.from_numpy(normalise(s))
    return batch, widths

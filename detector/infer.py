"""`Detector`: ink map -> word quadrilaterals in photo pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detector.postprocess import GroupingConfig, ink_to_quads
from ocrsearch.types import Detection


@dataclass(frozen=True)
class DetectorConfig:
    """Defaults of the ink-derived detector, in one place."""

    work_side: int = 1600  # the ink map is brought to at most this longest side before grouping
    threshold: float = 0.5  # ink probability above which a pixel is ink (lower joins ruled lines and tables to text on real photos)
    low_threshold: float = 0.3  # pixels above this are ink too where they touch ink above `threshold` (hysteresis):
    #     thin or faint strokes dip below the threshold in places and would break letters into specks
    grouping: GroupingConfig = field(default_factory=GroupingConfig)


class Detector:
    """Word detector working on the binarizer's ink map.

    `detect(rgb, ink)` accepts an ink map at the photo's size or at any reduced size with the same
    aspect ratio (such as `Binarizer.ink_map`'s working-scale output); quads come back in photo pixels.
    """

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()

    @property
    def version(self) -> str:
        """Identifies the detections this detector produces (stored with readings)."""
        return "detector-ink-6"

    @classmethod
    def load(cls, weights: Path | None = None, cfg: DetectorConfig | None = None) -> Detector:
        """The ink-derived detector; `weights` is accepted for interface symmetry (no learned model ships)."""
        if weights is not None and Path(weights).exists():
            raise NotImplementedError("no learned detector exists yet; the ink-derived detector needs no weights")
        return cls(cfg)

    def binary(self, ink: np.ndarray, photo_shape: tuple[int, int] | None = None) -> np.ndarray:
        """Ink map [h,w] float in [0,1] -> uint8 mask at the working size: the photo's (`photo_shape`,
        default the ink map's own) brought to at most `work_side`. A binarizer's working-scale map
        (1280 px) is brought up to it, which keeps strokes and gaps of small writing apart."""
        h, w = ink.shape[:2]
        ph, pw = photo_shape or (h, w)
        scale = min(1.0, self.cfg.work_side / max(ph, pw))
        size = (max(1, round(pw * scale)), max(1, round(ph * scale)))
        if size != (w, h):
            shrink = size[0] < w
            ink = cv2.resize(ink, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        strong = (ink > self.cfg.threshold).astype(np.uint8)  # [h',w']
        if self.cfg.low_threshold >= self.cfg.threshold:
            return strong
        weak = (ink > self.cfg.low_threshold).astype(np.uint8)
        n, labels = cv2.connectedComponents(weak, connectivity=8)
        keep = np.zeros(n, np.uint8)
        keep[labels[strong > 0]] = 1
        keep[0] = 0
        return keep[labels]  # [h',w'] weak components that hold strong ink

    def detect(self, rgb: np.ndarray, ink: np.ndarray, dropped: list | None = None) -> list[Detection]:
        """Word quads [4,2] float32 clockwise from top-left, in pixels of `rgb` [H,W,3]; `dropped`, when
        given, receives (reason, box in photo pixels) for the ink left out (error analysis)."""
        height, width = rgb.shape[:2]
        mask = self.binary(ink, (height, width))
        sx, sy = width / mask.shape[1], height / mask.shape[0]
        trace: list | None = [] if dropped is not None else None
        quads, _, _ = ink_to_quads(mask, self.cfg.grouping, trace)
        if dropped is not None:
            dropped.extend((r, b * np.array([sx, sy, sx, sy], np.float32)) for r, b in trace)
        out = []
        for q in quads:
            full = (q * np.array([sx, sy], np.float32)).astype(np.float32)
            full[:, 0] = np.clip(full[:, 0], 0, width)
            full[:, 1] = np.clip(full[:, 1], 0, height)
            out.append(Detection(quad=full, score=1.0))
        return out

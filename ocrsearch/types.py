"""Plain data passed between the pipeline's stages, the store and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detection:
    """One word found on a photo: a quadrilateral in photo pixels (clockwise from top-left)."""

    quad: np.ndarray  # [4, 2] float32
    score: float = 1.0

    @property
    def box(self) -> tuple[int, int, int, int]:
        x0, y0 = np.floor(self.quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(self.quad.max(axis=0)).astype(int)
        return int(x0), int(y0), int(x1), int(y1)


@dataclass
class Reading:
    """What the recognizer read in one crop: the best text and n-best alternates."""

    text: str
    confidence: float
    alternates: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Word:
    text: str
    confidence: float
    box: tuple[int, int, int, int]
    quad: list[list[float]]
    alternates: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "box": list(self.box),
            "quad": [[round(float(x), 1), round(float(y), 1)] for x, y in self.quad],
            "confidence": round(float(self.confidence), 4),
            "alternates": [{"text": t, "confidence": round(float(c), 4)} for t, c in self.alternates],
        }


@dataclass
class PageReading:
    width: int
    height: int
    words: list[Word]

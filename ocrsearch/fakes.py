"""Deterministic stand-ins for the models, for tests only.

TEST HOOK: with OCRSEARCH_FAKE_PIPELINE=1 in the environment the CLI reads photos with
`SidecarReader` and crops with `SizeRecognizer` instead of loading the trained models, so that the
CLI (ingest, search, read, recognize, crash-and-resume in a subprocess) can be tested without
weights. OCRSEARCH_FAKE_DELAY=SECONDS makes every photo take that long (to kill an ingest midway).
Never set these outside tests.

Sidecar format: next to `photo.jpg`, `photo.txt` holds one word per line:
    text
    text<TAB>confidence
    text<TAB>confidence<TAB>alternate:confidence,alternate:confidence
A photo without a sidecar has no words. The photo itself is still decoded, so broken files fail
exactly as they do with the real pipeline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ocrsearch.config import FAKE_DELAY_ENV_VAR, PhotoLimits
from ocrsearch.imageio import PhotoError, read_photo
from ocrsearch.pipeline import PhotoResult
from ocrsearch.types import PageReading, Reading, Word

SIDECAR_SUFFIX = ".txt"


def parse_sidecar(text: str) -> list[tuple[str, float, list[tuple[str, float]]]]:
    words = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        confidence = float(fields[1]) if len(fields) > 1 and fields[1].strip() else 0.9
        alternates = []
        if len(fields) > 2 and fields[2].strip():
            for item in fields[2].split(","):
                alt, _, conf = item.rpartition(":")
                alternates.append((alt, float(conf)))
        words.append((fields[0].strip(), confidence, alternates))
    return words


def layout_words(entries: list[tuple[str, float, list[tuple[str, float]]]], width: int, height: int) -> list[Word]:
    """Place words in rows of eight, so that every word gets a distinct box inside the photo."""
    cell_w = max(2, width // 8)
    cell_h = max(2, min(60, height // 10))
    words = []
    for i, (text, confidence, alternates) in enumerate(entries):
        x0 = (i % 8) * cell_w
        y0 = min(height - cell_h, (i // 8) * cell_h)
        x1, y1 = min(width, x0 + cell_w - 1), min(height, y0 + cell_h - 1)
        quad = [[float(x0), float(y0)], [float(x1), float(y0)], [float(x1), float(y1)], [float(x0), float(y1)]]
        words.append(Word(text=text, confidence=confidence, box=(x0, y0, x1, y1), quad=quad, alternates=alternates))
    return words


@dataclass
class SidecarReader:
    """A PhotoFileReader that takes each photo's words from its sidecar text file."""

    limits: PhotoLimits = field(default_factory=PhotoLimits)
    delay_s: float = 0.0
    model_version: str = "fake-sidecar-1"

    @classmethod
    def from_env(cls, limits: PhotoLimits = PhotoLimits(), model_threads: int | None = None) -> SidecarReader:
        """`model_threads` is accepted as `ReaderFactory` asks; a sidecar reader runs no model."""
        return cls(limits=limits, delay_s=float(os.environ.get(FAKE_DELAY_ENV_VAR, "0") or 0))

    def read_file(self, path: str) -> PhotoResult:
        t0 = time.perf_counter()
        try:
            photo = read_photo(path, self.limits)
        except PhotoError as e:
            return PhotoResult(path=path, error=e.reason, seconds=time.perf_counter() - t0)
        sidecar = Path(path).with_suffix(SIDECAR_SUFFIX)
        entries = parse_sidecar(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else []
        height, width = photo.rgb.shape[:2]
        if self.delay_s:
            time.sleep(self.delay_s)
        reading = PageReading(width=width, height=height, words=layout_words(entries, width, height))
        return PhotoResult(path=path, sha256=photo.sha256, size=photo.size, reading=reading,
                           model_version=self.model_version, seconds=time.perf_counter() - t0, mtime_ns=photo.mtime_ns)

    def read_files(self, paths: Sequence[str]) -> Iterator[PhotoResult]:
        return (self.read_file(path) for path in paths)


class SizeRecognizer:
    """A recognizer that reads every crop as its size, e.g. "crop40x20"."""

    version = "fake-size-1"

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        return [Reading(text=f"crop{c.shape[1]}x{c.shape[0]}", confidence=0.5) for c in crops]

"""Shared fixtures of the application tests: small photos, sidecar words, a database folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrsearch.config import FAKE_PIPELINE_ENV_VAR, DbLayout
from ocrsearch.index import Index
from ocrsearch.store import PhotoInput, Store
from ocrsearch.types import PageReading, Word


@pytest.fixture
def layout(tmp_path: Path) -> DbLayout:
    return DbLayout(tmp_path / "db")


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI read photos from sidecar files instead of loading models (ocrsearch/fakes.py)."""
    monkeypatch.setenv(FAKE_PIPELINE_ENV_VAR, "1")


@pytest.fixture
def make_photo() -> Callable[..., Path]:
    """Write a small JPEG (unique pixels per seed) and, if words are given, its sidecar file."""

    def make(path: Path, words: list[str] | None = None, seed: int = 0, size: tuple[int, int] = (96, 64)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=90)
        if words is not None:
            path.with_suffix(".txt").write_text("\n".join(words) + "\n", encoding="utf-8")
        return path

    return make


def page(*words: str | tuple[str, list[tuple[str, float]]], width: int = 1000, height: int = 100) -> PageReading:
    """A PageReading with the given words (optionally with alternates) laid out left to right."""
    out = []
    for i, item in enumerate(words):
        text, alternates = (item, []) if isinstance(item, str) else item
        x0 = i * 10
        out.append(Word(text=text, confidence=0.9, box=(x0, 0, x0 + 9, 9),
                        quad=[[x0, 0], [x0 + 9, 0], [x0 + 9, 9], [x0, 9]], alternates=list(alternates)))
    return PageReading(width=width, height=height, words=out)


@pytest.fixture
def library(layout: DbLayout):
    """An open store + index pair; `add(path, reading)` writes a photo (to both, in one transaction)."""
    store = Store(layout.sqlite_path).open()
    index = Index(layout.sqlite_path).open()

    def add(path: str, reading) -> None:
        store.put_reading(PhotoInput(path, "hash-" + path, 1, reading))

    yield store, index, add
    index.close()
    store.close()

"""Readers for labelled text images on disk, as torch Datasets of (image uint8, transcription).

Formats (../shared/DESIGN.md §3): labels.tsv, pages.jsonl (crops cut from word or line quads),
IAM words (words.txt + words/), MJSynth annotation files, and our packed strip caches.
`open_dataset(path)` picks the reader from what it finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import ConcatDataset, Dataset


def read_image(path: Path) -> np.ndarray:
    """RGB uint8 [H, W, 3]; a clear error naming the file when it cannot be read."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class LabelsTsvDataset(Dataset):
    """DIR/labels.tsv lines `relative/path.png<TAB>text`."""

    def __init__(self, labels: Path):
        labels = Path(labels)
        if labels.is_dir():
            labels = labels / "labels.tsv"
        self.root = labels.parent
        self.items: list[tuple[Path, str]] = []
        for line in labels.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                rel, text = line.split("\t", 1)
                self.items.append((self.root / rel, text))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        path, text = self.items[i]
        return read_image(path), text

    def width(self, i: int, height: int = 32) -> int:
        """Width of crop i scaled to `height`, from the file header only (for width bucketing)."""
        from PIL import Image

        with Image.open(self.items[i][0]) as im:
            w, h = im.size
        return max(1, round(w * height / max(h, 1)))


def warp_quad(image: np.ndarray, quad: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """Cut the quadrilateral `quad` [4, 2] (clockwise from top-left) out of `image` as an upright
    crop, with a margin relative to its height, as the pipeline does with detector quads."""
    quad = np.asarray(quad, np.float32)
    tl, tr, br, bl = quad
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl), 2.0)
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr), 2.0)
    m = margin * height
    dst = np.array([[m, m], [m + width, m], [m + width, m + height], [m, m + height]], np.float32)
    transform = cv2.getPerspectiveTransform(quad, dst)
    size = (int(round(width + 2 * m)), int(round(height + 2 * m)))
    return cv2.warpPerspective(image, transform, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def box_to_quad(box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def poly_to_quad(poly) -> np.ndarray:
    """Minimum-area rectangle of a polygon, ordered clockwise from the top-left."""
    rect = cv2.minAreaRect(np.asarray(poly, np.float32))
    pts = cv2.boxPoints(rect)
    # Order: the two leftmost (by x after rotation to the rect's angle) become left corners.
    s, d = pts.sum(axis=1), np.diff(pts, axis=1)[:, 0]
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32)


class PagesJsonlDataset(Dataset):
    """Word (or line) crops cut from the photos of a pages.jsonl set."""

    def __init__(self, path: Path, level: str = "words", line_types: tuple[str, ...] | None = None):
        path = Path(path)
        if path.is_dir():
            path = path / "pages.jsonl"
        self.root = path.parent
        self.items: list[tuple[Path, np.ndarray, str]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            page = json.loads(line)
            for obj in page.get(level, []):
                if line_types and not any(t in obj.get("type", "") for t in line_types):
                    continue
                poly = obj.get("poly")
                quad = poly_to_quad(poly) if poly and len(poly) >= 4 and len(poly) != 4 else (
                    np.asarray(poly, np.float32) if poly and len(poly) == 4 else box_to_quad(obj["box"]))
                self.items.append((self.root / page["image"], quad, obj["text"]))
        self._cache: tuple[Path, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def width(self, i: int, height: int = 32) -> int:
        """Width of crop i scaled to `height`, from its quad (for width bucketing)."""
        tl, tr, br, bl = self.items[i][1]
        w = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
        h = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr), 1.0)
        return max(1, round(w * height / h))

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        path, quad, text = self.items[i]
        if self._cache is None or self._cache[0] != path:
            self._cache = (path, read_image(path))
        return warp_quad(self._cache[1], quad), text


class IamWordsDataset(Dataset):
    """IAM words: `words.txt` lines `a01-000u-00-00 ok 154 408 768 27 51 AT A`, images under
    words/a01/a01-000u/a01-000u-00-00.png. Segmentation errors ('err') are skipped."""

    def __init__(self, words_txt: Path, images_dir: Path | None = None):
        words_txt = Path(words_txt)
        if words_txt.is_dir():
            words_txt = words_txt / "words.txt"
        root = Path(images_dir) if images_dir else words_txt.parent / "words"
        self.items: list[tuple[Path, str]] = []
        for line in words_txt.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line or line.startswith("#"):
                continue
            parts = line.split(" ")
            if len(parts) < 9 or parts[1] != "ok":
                continue
            word_id, text = parts[0], " ".join(parts[8:])
            a, b = word_id.split("-")[:2]
            self.items.append((root / a / f"{a}-{b}" / f"{word_id}.png", text))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        path, text = self.items[i]
        return read_image(path), text


class MJSynthDataset(Dataset):
    """MJSynth annotation file: `./2697/6/466_MONIKER_49537.jpg 49537`; the label is the middle
    field of the file name."""

    def __init__(self, annotation: Path):
        annotation = Path(annotation)
        self.root = annotation.parent
        self.items: list[tuple[Path, str]] = []
        for line in annotation.read_text(encoding="utf-8").splitlines():
            rel = line.split(" ")[0].strip()
            if not rel:
                continue
            stem = Path(rel).stem
            parts = stem.split("_")
            if len(parts) >= 3:
                self.items.append((self.root / rel, "_".join(parts[1:-1])))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        path, text = self.items[i]
        return read_image(path), text


class RepeatedDataset(Dataset):
    """A small set seen `times` times per epoch, so that it weighs against a large one it is mixed with."""

    def __init__(self, base: Dataset, times: int):
        self.base, self.times = base, times

    def __len__(self) -> int:
        return len(self.base) * self.times

    def __getitem__(self, i: int):
        return self.base[i % len(self.base)]

    def width(self, i: int) -> int:
        return self.base.width(i % len(self.base))


def open_dataset(spec: str | Path, **kwargs) -> Dataset:
    """Open a labelled set by what is on disk: packed cache, labels.tsv, pages.jsonl, IAM words.txt,
    or an MJSynth annotation file. Several comma-separated specs are concatenated; `SPEC*N`
    repeats a set N times per epoch (to up-weight a small real set against synthetic data)."""
    if isinstance(spec, str) and "," in spec:
        return ConcatDataset([open_dataset(s.strip(), **kwargs) for s in spec.split(",") if s.strip()])
    if isinstance(spec, str) and "*" in spec:
        base, times = spec.rsplit("*", 1)
        return RepeatedDataset(open_dataset(base, **kwargs), int(times))
    path = Path(spec)
    if path.is_dir():
        if any(path.glob("shard_*.npz")):
            from data.words import PackedWordDataset

            return PackedWordDataset(path)
        for name, reader in (("labels.tsv", LabelsTsvDataset), ("pages.jsonl", PagesJsonlDataset),
                             ("words.txt", IamWordsDataset)):
            if (path / name).exists():
                return reader(path / name, **kwargs) if reader is PagesJsonlDataset else reader(path / name)
        raise FileNotFoundError(f"{path}: no labels.tsv, pages.jsonl, words.txt or shard_*.npz inside")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.name == "labels.tsv" or path.suffix == ".tsv":
        return LabelsTsvDataset(path)
    if path.suffix == ".jsonl":
        return PagesJsonlDataset(path, **kwargs)
    if path.name == "words.txt":
        return IamWordsDataset(path)
    return MJSynthDataset(path)

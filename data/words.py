"""Synthetic word sets: as PNG crops + labels.tsv (the exchange format), as a packed cache of
recognizer-ready strips (what training reads, so that rendering happens once), and as an
on-the-fly torch IterableDataset."""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from data.fonts import FontSpec
from data.render import RenderConfig, WordRenderer


def write_word_set(out_dir: Path, n: int, fonts: list[FontSpec], seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> Path:
    """Write n crops as out_dir/words/NNNNNN.png and out_dir/labels.tsv."""
    out_dir = Path(out_dir)
    (out_dir / "words").mkdir(parents=True, exist_ok=True)
    renderer = WordRenderer(fonts, seed=seed)
    labels = out_dir / "labels.tsv"
    with labels.open("w", encoding="utf-8") as f:
        for i in range(n):
            img, text = renderer.render()
            name = f"words/{i:06d}.png"
            cv2.imwrite(str(out_dir / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            f.write(f"{name}\t{text}\n")
            if progress:
                progress(i + 1)
    return labels


# ---------------------------------------------------------------------------------------------
# Packed cache: shard_K.npz = {pixels: uint8 [sum W * H], widths: int32 [N], labels: str [N]}


def _render_shard(args: tuple[list[FontSpec], int, int, str, int]) -> str:
    from recognizer.preprocess import to_gray_strip

    fonts, n, seed, path, height = args
    renderer = WordRenderer(fonts, seed=seed)
    crops = (renderer.render() for _ in range(n))
    _write_shard(path, ((to_gray_strip(img, height), text) for img, text in crops), height)
    return path


def _write_shard(path: str | Path, strips: Iterable[tuple[np.ndarray, str]], height: int) -> int:
    """Store gray strips [height, W] column-major, so that one crop is one contiguous slice."""
    columns, labels = [], []
    for strip, text in strips:
        columns.append(np.ascontiguousarray(strip.T).reshape(-1))
        labels.append(text)
    widths = np.array([c.size // height for c in columns], dtype=np.int32)
    np.savez_compressed(path, pixels=np.concatenate(columns), widths=widths, labels=np.array(labels), height=height)
    return len(labels)


def pack_dataset(dataset: Dataset, out_dir: Path, height: int = 32, shard_size: int = 5000) -> int:
    """Pack any labelled set (labels.tsv, pages.jsonl, IAM...) into shards of recognizer strips, so that
    training decodes and resizes each crop once, and the set travels small (a GPU machine, say)."""
    from recognizer.preprocess import to_gray_strip

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for k, start in enumerate(range(0, len(dataset), shard_size)):
        items = (dataset[i] for i in range(start, min(start + shard_size, len(dataset))))
        total += _write_shard(out_dir / f"shard_pack_{k:04d}.npz",
                              ((to_gray_strip(img, height), text) for img, text in items), height)
    (out_dir / "meta.json").write_text(json.dumps({"height": height, "n": total}))
    return total


def pack_word_cache(out_dir: Path, n: int, fonts: list[FontSpec], seed: int = 0, height: int = 32,
                    shard_size: int = 5000, workers: int = 2,
                    progress: Callable[[str], None] | None = None) -> list[Path]:
    """Render n crops into shards of recognizer strips, `workers` processes in parallel."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, start in enumerate(range(0, n, shard_size)):
        path = out_dir / f"shard_{seed:04d}_{k:04d}.npz"
        if not path.exists():
            jobs.append((fonts, min(shard_size, n - start), seed * 100_003 + k, str(path), height))
    (out_dir / "meta.json").write_text(json.dumps({"height": height, "seed": seed, "n": n}))
    done = []
    if workers <= 1:
        for job in jobs:
            done.append(_render_shard(job))
            if progress:
                progress(done[-1])
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            for path in pool.imap_unordered(_render_shard, jobs):
                done.append(path)
                if progress:
                    progress(path)
    return sorted(out_dir.glob("shard_*.npz"))


@dataclass
class PackedShard:
    pixels: np.ndarray
    offsets: np.ndarray
    widths: np.ndarray
    labels: list[str]
    height: int


def load_shard(path: Path) -> PackedShard:
    z = np.load(path)
    widths = z["widths"].astype(np.int64)
    height = int(z["height"])
    offsets = np.concatenate([[0], np.cumsum(widths * height)[:-1]])
    return PackedShard(z["pixels"], offsets, widths, [str(s) for s in z["labels"]], height)


class PackedWordDataset(Dataset):
    """Strips from a packed cache folder (or several), as (gray uint8 [H, W], label)."""

    def __init__(self, folders: list[Path] | Path):
        folders = [folders] if isinstance(folders, (str, Path)) else folders
        self.shards = [load_shard(p) for f in folders for p in sorted(Path(f).glob("shard_*.npz"))]
        if not self.shards:
            raise FileNotFoundError(f"no shard_*.npz in {folders}")
        self.index = [(s, i) for s, shard in enumerate(self.shards) for i in range(len(shard.labels))]

    def __len__(self) -> int:
        return len(self.index)

    def width(self, i: int) -> int:
        s, j = self.index[i]
        return int(self.shards[s].widths[j])

    def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
        s, j = self.index[i]
        shard = self.shards[s]
        w, h = int(shard.widths[j]), shard.height
        flat = shard.pixels[shard.offsets[j]: shard.offsets[j] + w * h]
        return np.ascontiguousarray(flat.reshape(w, h).T), shard.labels[j]


class SyntheticWordStream(IterableDataset):
    """Endless on-the-fly crops (RGB uint8, label); each DataLoader worker gets its own seed."""

    def __init__(self, fonts: list[FontSpec], seed: int = 0, cfg: RenderConfig | None = None):
        self.fonts, self.seed, self.cfg = fonts, seed, cfg

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        renderer = WordRenderer(self.fonts, seed=self.seed * 1000 + worker + int(torch.initial_seed() % 997), cfg=self.cfg)
        while True:
            yield renderer.render()

#!/usr/bin/env python3
"""Indexing throughput: already-recognized photos written to the store and the index, photos/s.

Photos are synthetic: WORDS words each drawn from wordfreq's 50,000 most frequent English words with
Zipf weights (a fifth of them with one misspelt alternate reading), boxes laid out in rows. Writes
use the batched path: `Store.add_many` writes a batch of photos, their packed words and their FTS5
index rows in one transaction. Target: >= 1,000 photos/s.

    .venv/bin/python bench/index_throughput.py --photos 2000
    .venv/bin/python bench/index_throughput.py --photos 10000 --db runs/bench-db   # keep it for search_latency.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ocrsearch.config import DbLayout
from ocrsearch.store import PhotoInput, Store
from ocrsearch.types import PageReading, Word

VOCABULARY_SIZE = 50_000
ALTERNATE_SHARE = 0.2


def vocabulary(size: int = VOCABULARY_SIZE) -> tuple[list[str], np.ndarray]:
    """wordfreq's most frequent English words and their sampling probabilities (Zipf weights)."""
    from wordfreq import top_n_list, zipf_frequency

    words = top_n_list("en", size)
    weights = np.array([10 ** zipf_frequency(w, "en") for w in words], dtype=np.float64)
    return words, weights / weights.sum()


def _misspell(word: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(len(word)))
    return word[:i] + "aeiourstnl"[int(rng.integers(10))] + word[i + 1:]


def synthetic_photos(n_photos: int, words_per_photo: int, seed: int = 0, start: int = 0,
                     vocab: tuple[list[str], np.ndarray] | None = None) -> Iterator[PhotoInput]:
    words, probabilities = vocab or vocabulary()
    for i in range(start, start + n_photos):
        rng = np.random.default_rng((seed, i))  # per photo, so any photo can be regenerated alone
        chosen = rng.choice(len(words), size=words_per_photo, p=probabilities)
        has_alt = rng.random(words_per_photo) < ALTERNATE_SHARE
        page_words = []
        for k, (index, alt) in enumerate(zip(chosen, has_alt)):
            text = words[index]
            x0, y0 = 40 + (k % 10) * 380, 40 + (k // 10) * 140
            x1, y1 = x0 + 300, y0 + 90
            page_words.append(Word(text=text, confidence=0.9, box=(x0, y0, x1, y1),
                                   quad=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                                   alternates=[(_misspell(text, rng), 0.2)] if alt else []))
        yield PhotoInput(path=f"/photos/{i // 1000:03d}/photo{i:06d}.jpg", content_hash=f"{i:064x}", size=3_000_000,
                         reading=PageReading(width=4000, height=3000, words=page_words), model_version="synthetic")


def build(layout: DbLayout, n_photos: int, words_per_photo: int, batch_size: int, seed: int = 0) -> dict[str, float]:
    """Write synthetic photos in batches; returns timings (generation is not timed)."""
    vocab = vocabulary()
    seconds = cpu = 0.0
    with Store(layout.sqlite_path) as store:
        for start in range(0, n_photos, batch_size):
            batch = list(synthetic_photos(min(batch_size, n_photos - start), words_per_photo, seed, start, vocab))
            t0, c0 = time.perf_counter(), time.process_time()
            store.add_many(batch)  # photos, words and index rows, one transaction
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
    return {"photos": n_photos, "seconds": seconds, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--words", type=int, default=200, help="words per photo")
    parser.add_argument("--batch", type=int, default=1000, help="photos per store/index batch")
    parser.add_argument("--db", type=Path, default=None, help="keep the database here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = args.db or Path(tempfile.mkdtemp(prefix="ocrsearch-bench-"))
    if root.exists():
        shutil.rmtree(root)
    layout = DbLayout(root)
    try:
        t = build(layout, args.photos, args.words, args.batch, args.seed)
        total, total_cpu = t["seconds"], t["cpu_s"]
        print(f"photos: {args.photos} x {args.words} words, batches of {args.batch}")
        print(f"store + index (one transaction per batch): {total:.2f} s = {args.photos / total:,.0f} photos/s "
              f"({args.photos * args.words / total:,.0f} words/s)  (target >= 1,000); "
              f"CPU {total_cpu:.2f} s = {args.photos / total_cpu:,.0f} photos per CPU-second")
        # wall time is what users see; CPU time is what to compare when other work shares the machine
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        if args.db is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

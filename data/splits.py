"""Train/validation splits of labelled crops by document, never by crop: lines of one letter
share a hand, so a split by line would measure memory of that hand, not reading."""

from __future__ import annotations

import random
from pathlib import Path


def document_of(name: str) -> str:
    """`Lettre76_1_l004.jpg` -> `Lettre76_1`: the crop's source page."""
    stem = Path(name).stem
    return stem.rsplit("_l", 1)[0] if "_l" in stem else stem


def split_labels_by_document(labels: Path, out: Path, val_fraction: float = 0.1, seed: int = 0) -> dict[str, int]:
    """Write out/train/labels.tsv and out/val/labels.tsv with absolute image paths."""
    labels = Path(labels)
    if labels.is_dir():
        labels = labels / "labels.tsv"
    rows = [line.split("\t", 1) for line in labels.read_text(encoding="utf-8").splitlines() if "\t" in line]
    documents = sorted({document_of(r[0]) for r in rows})
    random.Random(seed).shuffle(documents)
    val_docs = set(documents[: max(1, round(len(documents) * val_fraction))])
    counts = {}
    for split in ("train", "val"):
        chosen = [r for r in rows if (document_of(r[0]) in val_docs) == (split == "val")]
        folder = Path(out) / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "labels.tsv").write_text(
            "".join(f"{(labels.parent / r[0]).resolve()}\t{r[1]}\n" for r in chosen), encoding="utf-8")
        counts[split] = len(chosen)
    return counts

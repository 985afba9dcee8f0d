"""Recognition metrics as ../shared/DESIGN.md §4 defines them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from recognizer.charset import normalise_label


@dataclass
class RecognitionScores:
    n: int
    cer: float
    word_accuracy: float
    word_accuracy_nocase: float
    mean_edit_distance: float
    mean_normalised_edit_distance: float
    crops_per_second: float

    def lines(self) -> list[str]:
        return [f"n={self.n}", f"CER={self.cer:.4f}", f"word_acc={self.word_accuracy:.4f}",
                f"word_acc_nocase={self.word_accuracy_nocase:.4f}", f"mean_ED={self.mean_edit_distance:.3f}",
                f"mean_ED/len={self.mean_normalised_edit_distance:.4f}", f"crops/s={self.crops_per_second:.1f}"]


def score(predictions: list[str], truths: list[str], seconds: float) -> RecognitionScores:
    edits = [Levenshtein.distance(p, t) for p, t in zip(predictions, truths)]
    n = max(1, len(truths))
    return RecognitionScores(
        n=len(truths),
        cer=sum(edits) / max(1, sum(len(t) for t in truths)),
        word_accuracy=sum(p == t for p, t in zip(predictions, truths)) / n,
        word_accuracy_nocase=sum(p.lower() == t.lower() for p, t in zip(predictions, truths)) / n,
        mean_edit_distance=sum(edits) / n,
        mean_normalised_edit_distance=sum(e / max(1, len(t)) for e, t in zip(edits, truths)) / n,
        crops_per_second=len(truths) / max(seconds, 1e-9),
    )


def evaluate_recognizer(recognizer, dataset, limit: int | None = None, batch: int = 256) -> RecognitionScores:
    """Read every crop of `dataset` ((image, text) pairs) and score against normalised labels."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    images, truths = [], []
    for i in range(n):
        image, text = dataset[i]
        images.append(image)
        truths.append(normalise_label(text))
    predictions, started = [], time.perf_counter()
    for start in range(0, n, batch):
        predictions += [r.text for r in recognizer.recognize(images[start:start + batch])]
    return score(predictions, truths, time.perf_counter() - started)

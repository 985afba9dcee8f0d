"""Word crops as the pipeline really cuts them ("wild" data for the recognizer's third stage).

Ground-truth quads give tight, perfectly placed crops; our detector gives looser ones, sometimes
two words merged, sometimes with an underline or a neighbour's stroke inside. The recognizer reads
the latter in production, so it should also be trained on them. For each labelled page we run the
shipped binarizer and detector, cut every detection exactly as `Pipeline.read` does, and label it
with the ground-truth words it covers. Sets labelled by lines only (stanford1905) are aligned by
count: when the detections inside a line are as many as its words, they read as those words in
order; other lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detector.metrics import iou_matrix
from ocrsearch.config import PipelineConfig


@dataclass(frozen=True)
class WildConfig:
    inside_share: float = 0.6  # a ground-truth word counts as covered when this share of its box is inside
    min_iou: float = 0.5  # the covered words' union box must overlap the detection at least this much
    max_words: int = 3  # longer merges are rare and mostly detector failures; skip them


def _area(b: np.ndarray) -> float:
    return float(max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]))


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    return _area(np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]))


def label_detection(box: np.ndarray, words: list[dict], cfg: WildConfig = WildConfig()) -> str | None:
    """The text a detection box should read as, or None if it does not match whole words.

    `words` are ground-truth dicts with "text", "box" and optionally "line"; covered words are
    joined with spaces in reading order (line, then left to right).
    """
    covered = []
    for w in words:
        wb = np.asarray(w["box"], dtype=np.float64)
        if _area(wb) > 0 and _intersection(box, wb) >= cfg.inside_share * _area(wb):
            covered.append(w)
    if not covered or len(covered) > cfg.max_words:
        return None
    boxes = np.array([w["box"] for w in covered], dtype=np.float64)
    union = np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])
    if iou_matrix(box, union)[0, 0] < cfg.min_iou:
        return None
    covered.sort(key=lambda w: (w.get("line", 0), w["box"][0]))
    return " ".join(w["text"] for w in covered)


def label_line_detections(boxes: np.ndarray, lines: list[dict], cfg: WildConfig = WildConfig()) -> dict[int, str]:
    """Labels for detections (index -> word) on a page whose ground truth has line boxes only.

    A detection belongs to the line holding `inside_share` of its area (the most, if several); a
    line whose detections, left to right, are exactly as many as its words gives each its word.
    Lines with characters outside printable ASCII are skipped: the recognizer cannot learn them."""
    if len(boxes) == 0:
        return {}
    members: dict[int, list[int]] = {}
    for d, box in enumerate(boxes):
        shares = [_intersection(box, np.asarray(line["box"], dtype=np.float64)) / max(_area(box), 1e-6)
                  for line in lines]
        best = int(np.argmax(shares)) if shares else -1
        if best >= 0 and shares[best] >= cfg.inside_share:
            members.setdefault(best, []).append(d)
    labels = {}
    for li, detections in members.items():
        text = lines[li]["text"]
        words = text.split()
        if not text.isascii() or len(words) != len(detections):
            continue
        for d, word in zip(sorted(detections, key=lambda d: boxes[d][0]), words):
            labels[d] = word
    return labels


def cut_wild_crops(pages_jsonl: Path, out_dir: Path, config: PipelineConfig = PipelineConfig(),
                   cfg: WildConfig = WildConfig(), limit: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write out_dir/words/*.png and out_dir/labels.tsv; returns counts of kept and dropped detections."""
    from binarizer import Binarizer
    from detector import Detector
    from ocrsearch.imageio import read_photo
    from ocrsearch.pipeline import warp_word

    pages_jsonl = Path(pages_jsonl)
    if pages_jsonl.is_dir():
        pages_jsonl = pages_jsonl / "pages.jsonl"
    out_dir = Path(out_dir)
    (out_dir / "words").mkdir(parents=True, exist_ok=True)
    binarizer = Binarizer.load(weights=config.binarizer_weights)
    detector = Detector.load(weights=config.detector_weights)
    counts = {"pages": 0, "kept": 0, "dropped": 0, "gt_words": 0}
    pages = [json.loads(line) for line in pages_jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
    if limit:
        pages = pages[:limit]
    with (out_dir / "labels.tsv").open("w", encoding="utf-8") as labels:
        for p, page in enumerate(pages):
            rgb = read_photo(pages_jsonl.parent / page["image"], config.limits).rgb
            ink = binarizer(rgb)
            detections = detector.detect(rgb, ink)
            boxes = np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
            words = page.get("words") or []
            texts = {d: label_detection(box, words, cfg) for d, box in enumerate(boxes)} if words \
                else label_line_detections(boxes, page.get("lines", []), cfg)
            for d, detection in enumerate(detections):
                text = texts.get(d)
                crop = warp_word(rgb, detection.quad, config.crop_margin, config.min_crop_side) if text else None
                if crop is None:
                    counts["dropped"] += 1
                    continue
                name = f"words/p{p:04d}_d{d:03d}.png"
                cv2.imwrite(str(out_dir / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
                labels.write(f"{name}\t{text}\n")
                counts["kept"] += 1
            counts["pages"] += 1
            counts["gt_words"] += len(words) or sum(len(line["text"].split()) for line in page.get("lines", []))
            if progress:
                progress(page["image"])
    return counts

"""Detection and binarization metrics.

- Word detection: precision, recall and F1 at an IoU threshold with one-to-one greedy matching of
  axis-aligned boxes (highest IoU first), as ../shared/DESIGN.md section 4 defines it.
- Line coverage: how much of each ground-truth line box the predicted word boxes cover along x.
- Binarization: F-measure and PSNR as the DIBCO contests report them (ink = foreground).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = Sequence[float]  # x0, y0, x1, y1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU [n,m] between boxes a [n,4] and b [m,4] (x0,y0,x1,y1)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def greedy_matches(ious: np.ndarray, iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one (pred, gt) pairs with IoU >= `iou` in an IoU matrix [P, G], greedy from the highest."""
    pi, gi = np.nonzero(ious >= iou)
    order = np.argsort(-ious[pi, gi], kind="stable")
    used_p, used_g, pairs = set(), set(), []
    for k in order:
        p, g = int(pi[k]), int(gi[k])
        if p in used_p or g in used_g:
            continue
        used_p.add(p)
        used_g.add(g)
        pairs.append((p, g))
    return pairs


def match_count(pred: np.ndarray, gt: np.ndarray, iou: float = 0.5) -> int:
    """Number of one-to-one matches at IoU >= `iou`, greedy from the highest IoU."""
    if len(pred) == 0 or len(gt) == 0:
        return 0
    return len(greedy_matches(iou_matrix(pred, gt), iou))


@dataclass
class DetectionScore:
    """Accumulates matches over pages; precision/recall/F1 over all boxes (micro average)."""

    iou: float = 0.5
    matched: int = 0
    n_pred: int = 0
    n_gt: int = 0

    def add(self, pred: Sequence[Box], gt: Sequence[Box]) -> None:
        p = np.asarray(pred, np.float64).reshape(-1, 4)
        g = np.asarray(gt, np.float64).reshape(-1, 4)
        self.matched += match_count(p, g, self.iou)
        self.n_pred += len(p)
        self.n_gt += len(g)

    @property
    def precision(self) -> float:
        return self.matched / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.n_gt if self.n_gt else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def line_coverage(pred: Sequence[Box], line: Box, min_v_overlap: float = 0.5) -> float:
    """Share [0,1] of the line box's width covered by predicted boxes that overlap it vertically
    by at least `min_v_overlap` of the smaller of the two heights."""
    x0, y0, x1, y1 = map(float, line)
    if x1 <= x0:
        return 0.0
    spans = []
    for px0, py0, px1, py1 in pred:
        ov = min(y1, py1) - max(y0, py0)
        if ov < min_v_overlap * min(y1 - y0, py1 - py0):
            continue
        a, b = max(x0, px0), min(x1, px1)
        if b > a:
            spans.append((a, b))
    covered, end = 0.0, x0
    for a, b in sorted(spans):
        a = max(a, end)
        if b > a:
            covered += b - a
            end = b
    return covered / (x1 - x0)


def binarization_scores(pred_ink: np.ndarray, gt_ink: np.ndarray) -> tuple[float, float]:
    """DIBCO F-measure (ink as the positive class, in %) and PSNR (dB) of two boolean ink masks."""
    p = np.asarray(pred_ink, bool)
    g = np.asarray(gt_ink, bool)
    tp = float(np.count_nonzero(p & g))
    fp = float(np.count_nonzero(p & ~g))
    fn = float(np.count_nonzero(~p & g))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    fmeasure = 100.0 * 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    mse = (fp + fn) / p.size
    psnr = 10.0 * np.log10(1.0 / mse) if mse > 0 else float("inf")
    return fmeasure, float(psnr)

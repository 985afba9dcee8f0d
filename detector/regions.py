"""Word kernels: the learned detector's targets and how its map becomes word quads.

A learned detector in the manner of DBNet: a U-Net predicts, per pixel, whether it lies in the
*kernel* of a word, the word's quad shrunk towards its centre, so that neighbouring words (and
lines) are apart in the map even where their ink touches. Each connected kernel is grown back by
the margin it was shrunk by.

Shrinking: across the reading direction each side moves in by `shrink` x the word height (the
kernel keeps 1 - 2 x shrink of it); along it, by the same amount but at most `shrink` x the word
width, so that a narrow word ("I", "1") keeps a kernel. Growing back moves each side out by `grow`
x the kernel's height (at most x its width), calibrated on the trained network's maps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class KernelConfig:
    shrink: float = 0.3  # training targets: share of the word height each side of a quad moves in
    # Growing back: each side moves out by this share of the kernel's height (at most of its width).
    # Exactly undoing the shrink would be 0.3 / 0.4 = 0.75, but the trained network's kernels come
    # out fatter than its targets; 0.5 was the best of 0.33-0.75 on our pages-bin-val2 (F1 at IoU
    # 0.5: 0.90 at 0.33-0.59, 0.86 at 0.75; detector/weights/README.md).
    grow: float = 0.5
    threshold: float = 0.5  # kernel probability
    min_area: int = 6  # kernel pixels at the map's scale; fewer is noise


def _axes(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    tl, tr, br, bl = quad
    along = (tr - tl + br - bl) / 2.0
    across = (bl - tl + br - tr) / 2.0
    width, height = float(np.linalg.norm(along)), float(np.linalg.norm(across))
    return along / max(width, 1e-6), across / max(height, 1e-6), width, height


def shrink_quad(quad, shrink: float) -> np.ndarray:
    """Word quad [4,2] (clockwise from the top-left of the text) -> its kernel quad [4,2]."""
    q = np.asarray(quad, np.float64).reshape(4, 2)
    along, across, width, height = _axes(q)
    d_across = shrink * height
    d_along = min(shrink * height, shrink * width)
    moves = np.array([along * d_along + across * d_across, -along * d_along + across * d_across,
                      -along * d_along - across * d_across, along * d_along - across * d_across])
    return (q + moves).astype(np.float32)


def kernel_mask(words: Iterable[dict], width: int, height: int, shrink: float) -> np.ndarray:
    """uint8 [height, width], 255 inside the kernel of each word's "poly" (or "quad")."""
    mask = np.zeros((height, width), np.uint8)
    for word in words:
        quad = word.get("poly") or word.get("quad")
        if quad is None or len(quad) != 4:
            continue
        cv2.fillPoly(mask, [np.round(shrink_quad(quad, shrink)).astype(np.int32)], 255, lineType=cv2.LINE_8)
    return mask


def write_kernel_set(sources: list[Path], out: Path, shrink: float = KernelConfig.shrink) -> int:
    """A training folder for `ocrsearch train binarizer` whose masks are word kernels: `pages.jsonl`
    rows point at the source photos (absolute paths), `masks/<stem>.png` hold the kernels. Returns
    the number of pages written."""
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for source in sources:
        for line in (source / "pages.jsonl").read_text().splitlines():
            rec = json.loads(line)
            image = (source / rec["image"]).resolve()
            stem = f"{source.name}-{image.stem}"
            cv2.imwrite(str(out / "masks" / f"{stem}.png"), kernel_mask(rec["words"], rec["width"], rec["height"], shrink))
            link = out / "pages" / f"{stem}{image.suffix}"
            link.parent.mkdir(exist_ok=True)
            if not link.exists():
                os.symlink(image, link)
            rows.append(json.dumps({**rec, "image": f"pages/{link.name}", "mask": f"masks/{stem}.png"}))
    (out / "pages.jsonl").write_text("\n".join(rows) + "\n")
    return len(rows)


def kernels_to_quads(prob: np.ndarray, cfg: KernelConfig = KernelConfig()) -> list[np.ndarray]:
    """Kernel probability [h,w] -> word quads [4,2] float32 in the map's pixels, clockwise from the
    top-left of the text. Text is taken to run within 45 degrees of horizontal."""
    binary = (prob > cfg.threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    quads = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < cfg.min_area:
            continue
        x, y, w, h = stats[i, :4]
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == i)
        points = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(points)
        rw, rh = rw + 1.0, rh + 1.0  # pixel centres -> pixel edges
        # the side within 45 degrees of horizontal runs along the text (narrow words are taller than wide)
        while angle > 45.0:
            rw, rh, angle = rh, rw, angle - 90.0
        while angle <= -45.0:
            rw, rh, angle = rh, rw, angle + 90.0
        grow_along = cfg.grow * min(rw, rh)  # a narrow word's kernel was shrunk by its width
        full_w, full_h = rw + 2 * grow_along, rh * (1 + 2 * cfg.grow)
        theta = np.deg2rad(angle)
        along = np.array([np.cos(theta), np.sin(theta)])
        across = np.array([-np.sin(theta), np.cos(theta)])
        if along[0] < 0:
            along, across = -along, -across
        centre = np.array([cx, cy])
        hw, hh = full_w / 2.0, full_h / 2.0
        quad = np.array([centre - along * hw - across * hh, centre + along * hw - across * hh,
                         centre + along * hw + across * hh, centre - along * hw + across * hh], np.float32)
        quads.append(quad)
    return quads

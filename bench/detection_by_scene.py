"""Word detection per scene of a labelled page set, from the boxes a score.py run predicted.

    python bench/detection_by_scene.py --data ../shared/data/synth-dev \
        --items bench/results/synth-dev/ocrsearch.pages.items.jsonl

For each scene: pages, precision / recall / F1 at IoU 0.5 and 0.3 (one-to-one greedy matching by
IoU, as score.py does), and the median offset of the ground-truth box centre from the matched
predicted box centre (pairs at IoU >= 0.3), in pixels and in word heights. A scene whose offset is
far from zero while the others sit at zero has ground truth displaced from the ink, which no
detector can match at IoU 0.5 on short words.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def greedy_match(truth: list, predicted: list, threshold: float) -> list[tuple[int, int]]:
    pairs = sorted(((iou(t, p), i, j) for i, t in enumerate(truth) for j, p in enumerate(predicted)), reverse=True)
    used_t, used_p, out = set(), set(), []
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_t and j not in used_p:
            used_t.add(i), used_p.add(j), out.append((i, j))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with pages.jsonl")
    parser.add_argument("--items", type=Path, required=True, help="score.py's <system>.pages.items.jsonl")
    args = parser.parse_args()
    truth = {}
    for line in (args.data / "pages.jsonl").read_text().splitlines():
        rec = json.loads(line)
        truth[rec["image"]] = rec
    counts = collections.defaultdict(lambda: collections.Counter())
    offsets = collections.defaultdict(list)
    for line in args.items.read_text().splitlines():
        item = json.loads(line)
        rec = truth[item["id"]]
        scene = rec.get("scene", "")
        gt = [w["box"] for w in rec["words"] if not w.get("ignore")]
        pred = [p["box"] for p in item["pred"]]
        c = counts[scene]
        c["pages"] += 1
        c["gt"] += len(gt)
        c["pred"] += len(pred)
        for threshold, key in ((0.5, "m50"), (0.3, "m30")):
            matched = greedy_match(gt, pred, threshold)
            c[key] += len(matched)
            if threshold == 0.3:
                for i, j in matched:
                    g, p = gt[i], pred[j]
                    height = g[3] - g[1]
                    dx = (g[0] + g[2] - p[0] - p[2]) / 2
                    dy = (g[1] + g[3] - p[1] - p[3]) / 2
                    offsets[scene].append((dx, dy, dx / height, dy / height))
    print(f"{'scene':<12} {'pages':>5} {'words':>6} {'F1@.5':>6} {'F1@.3':>6}  truth - predicted centre: dx, dy px (word heights)")
    for scene in sorted(counts):
        c = counts[scene]
        f1 = {k: 2 * c[k] / max(1, c["gt"] + c["pred"]) for k in ("m50", "m30")}
        dx, dy, hx, hy = np.median(np.array(offsets[scene]), axis=0) if offsets[scene] else (0, 0, 0, 0)
        print(f"{scene:<12} {c['pages']:>5} {c['gt']:>6} {f1['m50']:>6.3f} {f1['m30']:>6.3f}  "
              f"{dx:+6.1f}, {dy:+5.1f} ({hx:+.2f}, {hy:+.2f})")


if __name__ == "__main__":
    main()

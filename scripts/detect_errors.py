"""Where word detection F1 is lost: counts of error categories on a rendered page set.

    PYTHONPATH=$PWD .venv/bin/python scripts/detect_errors.py --data cache/pages-train [--limit N]
        [--set word_gap=0.5 ...] [--overlays DIR --n-overlays 6] [--dump errors.jsonl]

For tuning sets only (our own rendered pages): never run it on synth-dev or */dev, whose per-page
errors must not steer the constants.

Categories (after the scorer's one-to-one greedy matching at IoU .5):
- missed ground-truth words: `merged` (a prediction holds this word and another whole word),
  `split` (two or more predictions lie mostly inside it), `loose`/`tight` (best IoU in [.3, .5),
  prediction larger/smaller than the word), `partial` (one prediction mostly inside it, IoU < .3),
  `missed-noink` (the detector's binary mask has almost no ink in the box: faint or lost by the
  binarizer), `missed-dropped` (ink there, but no prediction: removed by a filter);
- unmatched predictions: `merged`, `split` (a piece of a word), `loose`/`tight`, `fp-drawing`
  (no word under it, drawing ink in the mask: doodle, arrow, frame, bullet, underline),
  `fp-nomask` (no word and no mask ink: ghost text, texture, edges, shadows), `fp-other`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from binarizer import Binarizer  # noqa: E402
from binarizer.classic import ClassicConfig  # noqa: E402
from detector import Detector  # noqa: E402
from detector.infer import DetectorConfig  # noqa: E402
from detector.metrics import DetectionScore, greedy_matches, iou_matrix  # noqa: E402
from detector.postprocess import GroupingConfig  # noqa: E402
from ocrsearch.imageio import load_rgb  # noqa: E402


def categorise(pred: np.ndarray, gt: np.ndarray, binary_full: np.ndarray, mask: np.ndarray | None,
               lines: list | None = None):
    """(gt categories {g: cat}, pred categories {p: cat}) for the unmatched boxes."""
    n, m = len(pred), len(gt)
    iou = iou_matrix(pred, gt) if n and m else np.zeros((n, m))
    pairs = greedy_matches(iou, 0.5) if n and m else []
    mp, mg = {p for p, _ in pairs}, {g for _, g in pairs}
    area_p = np.maximum((pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1]), 1.0) if n else np.zeros(0)
    area_g = np.maximum((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]), 1.0) if m else np.zeros(0)
    if n and m:
        ix = np.clip(np.minimum(pred[:, None, 2], gt[None, :, 2]) - np.maximum(pred[:, None, 0], gt[None, :, 0]), 0, None)
        iy = np.clip(np.minimum(pred[:, None, 3], gt[None, :, 3]) - np.maximum(pred[:, None, 1], gt[None, :, 1]), 0, None)
        inter = ix * iy
    else:
        inter = np.zeros((n, m))
    in_p = inter / area_p[:, None] if n else inter  # share of the prediction inside the word
    in_g = inter / area_g[None, :] if m else inter  # share of the word inside the prediction
    holds = in_g >= 0.6  # [n,m] prediction holds (most of) the word
    merger = holds.sum(axis=1) >= 2  # [n]
    gcat, pcat = {}, {}
    for g in range(m):
        if g in mg:
            continue
        col = iou[:, g] if n else np.zeros(0)
        best = float(col.max()) if n else 0.0
        inside = np.flatnonzero(in_p[:, g] >= 0.6) if n else []
        if n and (merger & holds[:, g]).any():
            p = int(np.flatnonzero(merger & holds[:, g])[0])
            held = {lines[k] for k in np.flatnonzero(holds[p])} if lines else set()
            gcat[g] = "merged-lines" if len(held) > 1 else "merged"
        elif len(inside) >= 2:
            gcat[g] = "split"
        elif best >= 0.3:
            p = int(np.argmax(col))
            gcat[g] = "loose" if area_p[p] > area_g[g] else "tight"
        elif len(inside) == 1:
            gcat[g] = "partial"
        else:
            x0, y0, x1, y1 = np.round(gt[g]).astype(int)
            ink = binary_full[max(y0, 0):y1, max(x0, 0):x1]
            gcat[g] = "missed-noink" if ink.size == 0 or ink.mean() < 0.02 else "missed-dropped"
    for p in range(n):
        if p in mp:
            continue
        if m and merger[p]:
            pcat[p] = "merged"
        elif m and in_p[p].max() >= 0.6 and iou[p].max() < 0.3:
            pcat[p] = "split"
        elif m and iou[p].max() >= 0.3:
            g = int(np.argmax(iou[p]))
            pcat[p] = "loose" if area_p[p] > area_g[g] else "tight"
        elif not m or in_p[p].sum() < 0.2:
            x0, y0, x1, y1 = np.round(pred[p]).astype(int)
            ink = mask[max(y0, 0):y1, max(x0, 0):x1] if mask is not None else None
            pcat[p] = "fp-drawing" if ink is not None and ink.size and (ink > 0).mean() > 0.01 else "fp-nomask"
        else:
            pcat[p] = "fp-other"
    return gcat, pcat, pairs


def parse_sets(items: list[str], kind: type = GroupingConfig) -> dict:
    types = {f.name: f.type for f in fields(kind)}
    out = {}
    for it in items:
        k, v = it.split("=", 1)
        t = types[k] if isinstance(types[k], type) else eval(types[k])  # noqa: S307 (annotations are strings)
        out[k] = t(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, action="append")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], help="GroupingConfig overrides key=value")
    ap.add_argument("--threshold", type=float, default=None, help="DetectorConfig.threshold override")
    ap.add_argument("--classic", nargs="*", default=[], help="ClassicConfig overrides key=value")
    ap.add_argument("--low", type=float, default=None, help="DetectorConfig.low_threshold override")
    ap.add_argument("--overlays", type=Path, default=None)
    ap.add_argument("--n-overlays", type=int, default=6)
    ap.add_argument("--dump", type=Path, default=None)
    ap.add_argument("--only", nargs="*", default=[], help="only these page images (file names)")
    args = ap.parse_args()
    if any("synth-dev" in str(d) or str(d).rstrip("/").endswith("/dev") for d in args.data):
        ap.error("measurement sets are not for error analysis")
    grouping = replace(GroupingConfig(), **parse_sets(args.set))
    dcfg = DetectorConfig(grouping=grouping)
    if args.threshold is not None:
        dcfg = replace(dcfg, threshold=args.threshold)
    if args.low is not None:
        dcfg = replace(dcfg, low_threshold=args.low)
    binarizer, detector = Binarizer.load(), Detector(dcfg)
    if args.classic:
        binarizer = Binarizer(classic=replace(ClassicConfig(), **parse_sets(args.classic, ClassicConfig)))
    s5, s3 = DetectionScore(0.5), DetectionScore(0.3)
    gc, pc, scene_f, drop_c = Counter(), Counter(), {}, Counter()
    dump = open(args.dump, "w") if args.dump else None
    if args.overlays:
        args.overlays.mkdir(parents=True, exist_ok=True)
    k = 0
    for data in args.data:
        rows = [json.loads(x) for x in (data / "pages.jsonl").read_text().splitlines() if x.strip()]
        for row in rows[: args.limit or None]:
            if args.only and Path(row["image"]).name not in args.only:
                continue
            rgb = load_rgb(data / row["image"])
            ink = binarizer.ink_map(rgb)
            dropped: list = []
            try:
                dets = detector.detect(rgb, ink, dropped)
            except TypeError:  # an older detector, without the trace (baseline runs)
                dets = detector.detect(rgb, ink)
            pred = np.asarray([d.box for d in dets], np.float64).reshape(-1, 4)
            gt = np.asarray([w["box"] for w in row.get("words", [])], np.float64).reshape(-1, 4)
            s5.add(pred, gt)
            s3.add(pred, gt)
            binary = detector.binary(ink, rgb.shape[:2])
            binary_full = cv2.resize(binary, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
            mask = cv2.imread(str(data / row["mask"]), cv2.IMREAD_GRAYSCALE) if row.get("mask") else None
            gcat, pcat, pairs = categorise(pred, gt, binary_full, mask, [w.get("line") for w in row.get("words", [])])
            if dropped:
                dboxes = np.stack([b for _, b in dropped]).astype(np.float64)
                # each filter's drops: on a ground-truth word (inside its box) or not
                if len(gt):
                    ix = np.clip(np.minimum(dboxes[:, None, 2], gt[None, :, 2]) - np.maximum(dboxes[:, None, 0], gt[None, :, 0]), 0, None)
                    iy = np.clip(np.minimum(dboxes[:, None, 3], gt[None, :, 3]) - np.maximum(dboxes[:, None, 1], gt[None, :, 1]), 0, None)
                    area = np.maximum((dboxes[:, 2] - dboxes[:, 0]) * (dboxes[:, 3] - dboxes[:, 1]), 1.0)
                    on_word = (ix * iy).max(axis=1) / area >= 0.5
                else:
                    on_word = np.zeros(len(dboxes), bool)
                for (r, _), w in zip(dropped, on_word):
                    drop_c[(r, "on-word" if w else "off-word")] += 1
                for g, c in gcat.items():
                    if c == "missed-dropped":
                        inter = iou_matrix(gt[g:g + 1], dboxes)[0]
                        k = int(np.argmax(inter))
                        gcat[g] = f"missed-dropped:{dropped[k][0]}" if inter[k] > 0 else "missed-dropped:?"
            gc.update(gcat.values())
            pc.update(pcat.values())
            sc = scene_f.setdefault(row.get("scene", "?"), DetectionScore(0.5))
            sc.add(pred, gt)
            if dump:
                dump.write(json.dumps({"image": str(data / row["image"]), "scene": row.get("scene"),
                                       "gt": {int(g): [c, gt[g].tolist(), row["words"][g]["text"]] for g, c in gcat.items()},
                                       "pred": {int(p): [c, pred[p].tolist()] for p, c in pcat.items()}}) + "\n")
            if args.overlays and k < args.n_overlays and (gcat or pcat):
                vis = rgb[:, :, ::-1].copy()
                for g, b in enumerate(gt):
                    colour = (0, 200, 0) if g not in gcat else (0, 0, 255)
                    cv2.rectangle(vis, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 1)
                    if g in gcat:
                        cv2.putText(vis, gcat[g], (int(b[0]), int(b[3]) + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
                for p, b in enumerate(pred):
                    colour = (255, 120, 0) if p not in pcat else (255, 0, 255)
                    cv2.rectangle(vis, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 2 if p in pcat else 1)
                    if p in pcat:
                        cv2.putText(vis, pcat[p], (int(b[0]), int(b[1]) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
                cv2.imwrite(str(args.overlays / Path(row["image"]).name.replace(".jpg", ".png")), vis)
                k += 1
    print(f"IoU.5 P={s5.precision:.3f} R={s5.recall:.3f} F1={s5.f1:.3f} | IoU.3 F1={s3.f1:.3f} "
          f"(gt={s5.n_gt} pred={s5.n_pred} matched={s5.matched})")
    print("missed words: " + ", ".join(f"{c}={n}" for c, n in gc.most_common()) + f" (total {sum(gc.values())})")
    print("extra preds:  " + ", ".join(f"{c}={n}" for c, n in pc.most_common()) + f" (total {sum(pc.values())})")
    reasons = sorted({r for r, _ in drop_c})
    print("dropped (on a word / off): " + ", ".join(f"{r}={drop_c[(r, 'on-word')]}/{drop_c[(r, 'off-word')]}" for r in reasons))
    sys.stdout.flush()
    print("per scene F1: " + ", ".join(f"{s}={v.f1:.3f}({v.n_gt})" for s, v in sorted(scene_f.items())))


if __name__ == "__main__":
    main()

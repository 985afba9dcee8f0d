"""Seconds per 12 MP photo for binarize + detect, and peak memory (RSS) of the process.

    .venv/bin/python bench/vision_speed.py [PHOTO ...] [--repeat N]

Each photo is resized to 4000 x 3000 (12 MP) first; decoding is not timed. Prints the median over
the repeats for each step and the peak RSS (ru_maxrss) of the whole run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from binarizer import Binarizer
from detector import Detector

DEFAULT = [Path("/work/shared/data/synth-dev/pages/p002.jpg"), Path("/work/shared/data/notebook-photos/pages/text2.jpg")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--full-size-ink", action="store_true", help="time Binarizer.__call__ (photo-size map) instead of ink_map")
    ap.add_argument("--weights", type=Path, default=None, help="binarizer weights (default: shipped, else classical)")
    ap.add_argument("--classic", action="store_true", help="the classical binarizer instead of the U-Net")
    args = ap.parse_args()
    binarizer = Binarizer() if args.classic else Binarizer.load(args.weights)
    detector = Detector.load()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for path in args.photos:
        rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
        landscape = rgb.shape[1] >= rgb.shape[0]
        rgb = np.ascontiguousarray(cv2.resize(rgb, (4000, 3000) if landscape else (3000, 4000), interpolation=cv2.INTER_CUBIC))
        t_bin, t_det, n = [], [], 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ink = binarizer(rgb) if args.full_size_ink else binarizer.ink_map(rgb)
            t1 = time.perf_counter()
            n = len(detector.detect(rgb, ink))
            t2 = time.perf_counter()
            t_bin.append(t1 - t0)
            t_det.append(t2 - t1)
        b, d = statistics.median(t_bin), statistics.median(t_det)
        print(f"{path.name}: 12 MP, binarizer={binarizer.version} binarize {b:.3f} s + detect {d:.3f} s = {b + d:.3f} s ({n} words)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (after imports: {rss0:.0f} MB)")


if __name__ == "__main__":
    main()

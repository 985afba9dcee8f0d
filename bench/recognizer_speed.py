"""Recognizer speed on this machine: crops/s, batched, greedy and beam, against RapidOCR's
recognizer on the same crops in the same run.

    .venv/bin/python bench/recognizer_speed.py [--data ../shared/data/synth-dev] [--n 512] [--stretch-below 0.5]

RapidOCR runs in the scorer's virtual environment (bash ../shared/bench/setup.sh --peers), in a
subprocess, so that it never becomes a dependency of ocrsearch."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RAPIDOCR_SNIPPET = r"""
import json, sys, time, cv2
from rapidocr import RapidOCR
paths = json.loads(sys.stdin.read())
eng = RapidOCR(params={"Global.log_level": "error"})
imgs = [cv2.imread(p) for p in paths]
eng.recognize_txt(imgs[:8])  # warm-up
t = time.perf_counter()
for i in range(0, len(imgs), 64):
    eng.recognize_txt(imgs[i:i + 64])
batched = time.perf_counter() - t
t = time.perf_counter()
for img in imgs[:64]:
    eng(img, use_det=False, use_cls=False, use_rec=True)
single = (time.perf_counter() - t) / min(64, len(imgs))
print(json.dumps({"batched_crops_per_s": len(imgs) / batched, "single_ms": single * 1000}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/synth-dev")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--backends", default="onnx,torch", help="recognizer backends to time, in turn")
    parser.add_argument("--stretch-below", type=float, default=0.0,
                        help="also time trimming margins and re-reading unsure crops narrower, wider and whole, "
                             "as `ocrsearch recognize` does (0.5)")
    parser.add_argument("--rapidocr-python", default=os.path.expanduser("~/.cache/ocrsearch-score-venv/bin/python"))
    args = parser.parse_args()

    from data.readers import LabelsTsvDataset
    from recognizer import Recognizer
    from recognizer.decode import BeamConfig

    dataset = LabelsTsvDataset(Path(args.data))
    n = min(args.n, len(dataset))
    crops = [dataset[i][0] for i in range(n)]
    paths = [str(dataset.items[i][0]) for i in range(n)]
    print(f"{n} crops from {args.data}")

    for backend in args.backends.split(","):
        for decoder, stretch_below in [("greedy", 0.0), ("beam", 0.0)] + (
                [("greedy", args.stretch_below), ("beam", args.stretch_below)] if args.stretch_below else []):
            recognizer = Recognizer.load(args.weights, decoder=decoder, beam=BeamConfig(), backend=backend,
                                         stretch_below=stretch_below, trim_margins=stretch_below > 0)
            recognizer.recognize(crops[:64])  # warm-up
            started = time.perf_counter()
            for i in range(0, n, 64):
                recognizer.recognize(crops[i:i + 64])
            rate = n / (time.perf_counter() - started)
            mode = f"{decoder}, trimmed, stretch below {stretch_below}" if stretch_below else decoder
            print(f"ocrsearch {backend:5s} {mode:6s}: {rate:7.1f} crops/s  ({1000 / rate:.2f} ms/crop, batches of 64)")

    if Path(args.rapidocr_python).exists():
        result = subprocess.run([args.rapidocr_python, "-c", RAPIDOCR_SNIPPET], input=json.dumps(paths),
                                capture_output=True, text=True)
        if result.returncode == 0:
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"rapidocr batched: {r['batched_crops_per_s']:7.1f} crops/s  ({1000 / r['batched_crops_per_s']:.2f} ms/crop)")
            print(f"rapidocr single : {1000 / r['single_ms']:7.1f} crops/s  ({r['single_ms']:.2f} ms/crop, one crop per call)")
        else:
            print("rapidocr failed:", result.stderr[-500:], file=sys.stderr)
    else:
        print(f"rapidocr not measured: {args.rapidocr_python} missing (bash ../shared/bench/setup.sh --peers)")


if __name__ == "__main__":
    main()

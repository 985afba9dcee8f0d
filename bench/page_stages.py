#!/usr/bin/env python3
"""Where a page's reading time goes: binarizer, detectors, cropping, and the recognizer split into
its network, its beam search and the lexicon, in seconds per page of one core (one ONNX Runtime
thread, as in an `ocrsearch ingest` worker).

    .venv/bin/python bench/page_stages.py "../shared/data/stanford1905/dev/pages/*.jpg"
    .venv/bin/python bench/page_stages.py "cache/pages-bin-val2/pages/*" --limit 10
    .venv/bin/python bench/page_stages.py "cache/pages-bin-val2/pages/*" --variant binarizer_side=1152

The first photo is read once before timing (models loaded, caches warm).
"""

from __future__ import annotations

import argparse
import functools
import glob
import time
from collections import defaultdict

from search_misses import parse_variant

from ocrsearch.pipeline import PipelineReader
from recognizer.decode import BeamDecoder
from recognizer.lexicon import LexiconAlternates


def timed(totals: dict[str, float], name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", help="a glob of photos (quote it)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    parser.add_argument("--variant", default="default", help="PipelineConfig fields to change: FIELD=VALUE[,FIELD=VALUE]")
    args = parser.parse_args()
    paths = sorted(glob.glob(args.photos))[: args.limit or None]
    if not paths:
        raise SystemExit(f"no photos match {args.photos}")

    totals: dict[str, float] = defaultdict(float)
    # class attributes, so every decoder and lexicon the pipeline builds is timed
    BeamDecoder.readings = timed(totals, "beam search", BeamDecoder.readings)
    LexiconAlternates.extend_all = timed(totals, "lexicon", LexiconAlternates.extend_all)
    reader = PipelineReader.load(parse_variant(args.variant), model_threads=1)
    reader.read_file(paths[0])
    recognizer = reader.pipeline.recognizer.loaded()
    recognizer.forward = timed(totals, "recognizer network", recognizer.forward)
    totals.clear()
    stages = reader.pipeline.times
    for name in ("binarize_s", "detect_s", "crop_s", "recognize_s"):
        setattr(stages, name, 0.0)
    stages.crops = 0

    start = time.perf_counter()
    for path in paths:
        reader.read_file(path)
    n = len(paths)
    wall = time.perf_counter() - start
    beam = totals["beam search"]
    print(f"{n} photos, {stages.crops / n:.0f} first-read crops per photo; seconds per photo:")
    print(f"  total {wall / n:.2f} | binarize {stages.binarize_s / n:.2f} | detect {stages.detect_s / n:.2f} | "
          f"crop {stages.crop_s / n:.2f} | recognize {stages.recognize_s / n:.2f} "
          f"(network {totals['recognizer network'] / n:.2f}, beam search {beam / n:.2f}, lexicon {totals['lexicon'] / n:.2f})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""End-to-end ingest of generated 12 MP photos: photos/s, peak RSS, and the share of time outside the models.

The photos (4000x3000 JPEG, handwritten-looking lines on a whiteboard-like background) are generated
first and not timed. Ingest then runs exactly as `ocrsearch ingest` does (load, binarize, detect,
crop, recognize, store, index). Model time is what the pipeline measures inside its binarizer,
detector and recognizer calls; everything else (decoding JPEGs, hashing, warping crops, SQLite,
the FTS5 index) is "outside the models". The next photo is decoded while the models read the current one,
so "waiting for decoded photos" is only the decode time the models did not hide.

Without trained weights (or with --placeholder) the models are simple stand-ins: a grey-level ink
map, connected components as word boxes, and a recognizer that returns a fixed word. Their time is
not representative of the real models, but the time outside them is.

    .venv/bin/python bench/ingest_e2e.py --photos 50
    .venv/bin/python bench/ingest_e2e.py --photos 50 --workers 2
    .venv/bin/python bench/ingest_e2e.py --photos 50 --decoder greedy
    .venv/bin/python bench/ingest_e2e.py --photos 50 --detector ink
"""

from __future__ import annotations

import argparse
import functools
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocrsearch.config import DbLayout, IngestConfig, PipelineConfig
from ocrsearch.ingest import ingest
from ocrsearch.pipeline import Pipeline, PipelineReader
from ocrsearch.types import Detection, Reading

REPO = Path(__file__).resolve().parent.parent
PHOTO_SIZE = (4000, 3000)  # 12 MP
WORDS = ("quarterly budget review meeting roadmap agenda finance hiring launch planning notes draft owner "
         "deadline summary action items design").split()


# -- placeholder models -------------------------------------------------------------------------


class PlaceholderBinarizer:
    version = "placeholder-ink"

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return (1.0 - gray.astype(np.float32) / 255.0).clip(0, 1)


class PlaceholderDetector:
    """Word boxes as connected components of dilated ink, found at 1000 px wide whatever the photo's
    decoded size (a quarter of a full 12 MP decode)."""

    version = "placeholder-components"

    def detect(self, rgb: np.ndarray, ink: np.ndarray) -> list[Detection]:
        scale = ink.shape[1] / 1000
        small = cv2.resize(ink, (1000, round(ink.shape[0] / scale)), interpolation=cv2.INTER_AREA)
        mask = (small > 0.35).astype(np.uint8)
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 5)))
        count, _, boxes, _ = cv2.connectedComponentsWithStats(mask)
        detections = []
        for x, y, w, h, area in boxes[1:count]:
            if w < 6 or h < 4 or area < 20:
                continue
            x0, y0, x1, y1 = x * scale, y * scale, (x + w) * scale, (y + h) * scale
            detections.append(Detection(quad=np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)))
        return detections


class PlaceholderRecognizer:
    version = "placeholder-fixed"

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        return [Reading(text="word", confidence=0.5) for _ in crops]


def placeholder_reader(model_threads: int | None = None) -> PipelineReader:
    return PipelineReader(Pipeline(PlaceholderBinarizer(), PlaceholderDetector(), PlaceholderRecognizer()))


def _same(reader: PipelineReader, model_threads: int | None = None) -> PipelineReader:
    return reader


# -- photos -------------------------------------------------------------------------------------


def find_font() -> Path | None:
    for family in ("caveat", "kalam", "patrick-hand"):
        found = sorted((REPO / "cache" / "fonts" / "npm" / family).glob("*400-normal.*"))
        if found:
            return found[0]
    return None


def generate_photos(folder: Path, count: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    font_path = find_font()
    width, height = PHOTO_SIZE
    base = np.empty((height, width, 3), np.uint8)
    for i in range(count):
        base[:] = (230 + int(rng.integers(0, 15)), 233, 236)
        image = Image.fromarray(base)
        draw = ImageDraw.Draw(image)
        font = ImageFont.truetype(str(font_path), 150) if font_path else ImageFont.load_default(size=150)
        y = 200
        while y < height - 300:
            line = " ".join(rng.choice(WORDS, int(rng.integers(2, 5))))
            draw.text((250 + int(rng.integers(0, 200)), y), line, font=font, fill=(30, 40, 120))
            y += 320
        image = image.rotate(float(rng.uniform(-3, 3)), resample=Image.BILINEAR, fillcolor=(225, 228, 230))
        image.save(folder / f"photo{i:03d}.jpg", quality=90)


# -- run ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--placeholder", action="store_true", help="use the stand-in models even if real ones load")
    parser.add_argument("--decoder", choices=("beam", "greedy"), default=PipelineConfig.decoder,
                        help="recognizer decoder (greedy: faster models, so time outside them weighs more)")
    parser.add_argument("--detector", choices=("both", "ink", "kernel"), default=PipelineConfig.detector)
    parser.add_argument("--keep", type=Path, default=None, help="keep photos and database in this folder")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="ocrsearch-e2e-"))
    photos, layout = root / "photos", DbLayout(root / "db")
    try:
        if not photos.exists():
            t0 = time.perf_counter()
            generate_photos(photos, args.photos)
            print(f"generated {args.photos} photos of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} in {time.perf_counter() - t0:.0f} s")
        if layout.root.exists():
            shutil.rmtree(layout.root)

        # as `ocrsearch ingest` builds it (worker processes load theirs with one model thread)
        make_reader = functools.partial(PipelineReader.load, PipelineConfig(decoder=args.decoder, detector=args.detector))
        if args.placeholder:
            make_reader = placeholder_reader
        try:
            reader = make_reader()
        except Exception as e:  # noqa: BLE001 - a benchmark falls back rather than stops
            print(f"trained models unavailable ({type(e).__name__}: {e}); using placeholders", file=sys.stderr)
            make_reader = placeholder_reader
            reader = make_reader()
        print(f"models: {reader.model_version}")
        if args.workers == 1:
            make_reader = functools.partial(_same, reader)  # keep the instance to read its stage times
        else:
            del reader  # each worker loads its own

        reading_s = [0.0]  # per photo: decode + pipeline, measured by the reader

        def on_photo(result) -> None:
            reading_s[0] += result.seconds

        t0 = time.perf_counter()
        report = ingest([photos], layout, make_reader, config=IngestConfig(workers=args.workers), on_photo=on_photo)
        wall = time.perf_counter() - t0

        rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"ingested {len(report.indexed)} photos ({len(report.failed)} failed) in {wall:.1f} s "
              f"= {len(report.indexed) / wall:.2f} photos/s with {args.workers} worker(s)")
        print(f"peak RSS: {rss_self:.0f} MiB (this process), {rss_children:.0f} MiB (largest child process)")
        if args.workers == 1:
            times = reader.pipeline.times
            outside = wall - times.model_s
            print(f"model time {times.model_s:.1f} s (binarize {times.binarize_s:.1f}, detect {times.detect_s:.1f}, "
                  f"recognize {times.recognize_s:.1f}); crops: {times.crops} in {times.crop_s:.1f} s")
            decode_s = reading_s[0] - times.model_s - times.crop_s
            rest_s = wall - reading_s[0]
            print(f"outside the models: {outside:.1f} s = {100 * outside / wall:.0f}% of the ingest: "
                  f"waiting for decoded photos {decode_s:.1f} s, warping crops {times.crop_s:.1f} s, "
                  f"hashing + store + index {rest_s:.1f} s")
        else:
            print("(model time is measured inside the workers; run with --workers 1 for the split)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

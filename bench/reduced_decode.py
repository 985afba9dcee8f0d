#!/usr/bin/env python3
"""Does decoding JPEGs at reduced scale (PipelineConfig.decode_min_side) change what is read?

Each photo is read twice with the same models: decoded at full size, and decoded at the scale the
pipeline uses. Words are paired by box (IoU >= 0.5, boxes in photo pixels) and compared; where
ground truth exists, word recall (DESIGN.md section 4: the word, case-insensitive, at a box of
IoU >= 0.5) is given for both. Photos:

- examples/*.jpg brought to 4000x3000 (they are 1200x900, below any reduction);
- 12 MP synthetic pages from the data engine (data/pages.py) with their ground truth;
- the same pages rendered at 2000x1500 and pasted into a 4000x3000 frame: text half as tall in
  pixels, the case where the recognizer's crops lose most.

    .venv/bin/python bench/reduced_decode.py --pages 6 --decoder greedy
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from detector.metrics import iou_matrix
from ocrsearch.config import PipelineConfig
from ocrsearch.imageio import read_photo
from ocrsearch.pipeline import Pipeline
from ocrsearch.types import PageReading

REPO = Path(__file__).resolve().parent.parent
PHOTO_SIZE = (4000, 3000)
JPEG_QUALITY = 92


@dataclass
class Tally:
    words_full: int = 0
    words_reduced: int = 0
    paired: int = 0
    same_text: int = 0
    truth: int = 0
    found_full: int = 0
    found_reduced: int = 0
    seconds_full: float = 0.0
    seconds_reduced: float = 0.0

    def line(self, name: str) -> str:
        text = (f"{name:<13} words full {self.words_full:5d}, reduced {self.words_reduced:5d}; paired by box "
                f"{self.paired:5d}, same text {self.same_text:5d} ({100 * self.same_text / max(self.paired, 1):.1f}%)")
        if self.truth:
            text += (f"; word recall full {100 * self.found_full / self.truth:.1f}%, "
                     f"reduced {100 * self.found_reduced / self.truth:.1f}% of {self.truth}")
        return text + f"; read in {self.seconds_full:.1f} s full, {self.seconds_reduced:.1f} s reduced"


def boxes(reading: PageReading) -> np.ndarray:
    return np.array([w.box for w in reading.words], np.float64).reshape(-1, 4)


def pair_by_box(a: np.ndarray, b: np.ndarray, min_iou: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (i, j) of boxes of a and b, best IoU first."""
    if not len(a) or not len(b):
        return []
    iou = iou_matrix(a, b)
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return pairs


def recall(reading: PageReading, truth: list[dict]) -> int:
    pairs = pair_by_box(np.array([t["box"] for t in truth], np.float64).reshape(-1, 4), boxes(reading))
    return sum(truth[i]["text"].casefold() == reading.words[j].text.casefold() for i, j in pairs)


def compare(pipeline: Pipeline, path: Path, min_side: int, tally: Tally, truth: list[dict] | None) -> None:
    readings = []
    for side in (None, min_side):
        t0 = time.perf_counter()
        photo = read_photo(path, min_side=side)
        readings.append(pipeline.read(photo.rgb, (photo.width, photo.height)))
        if side is None:
            tally.seconds_full += time.perf_counter() - t0
        else:
            tally.seconds_reduced += time.perf_counter() - t0
    full, reduced = readings
    assert (full.width, full.height) == (reduced.width, reduced.height)
    pairs = pair_by_box(boxes(full), boxes(reduced))
    tally.words_full += len(full.words)
    tally.words_reduced += len(reduced.words)
    tally.paired += len(pairs)
    tally.same_text += sum(full.words[i].text == reduced.words[j].text for i, j in pairs)
    if truth is not None:
        tally.truth += len(truth)
        tally.found_full += recall(full, truth)
        tally.found_reduced += recall(reduced, truth)


def save_jpeg(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path, quality=JPEG_QUALITY)
    return path


def example_photos(folder: Path) -> list[Path]:
    out = []
    for src in sorted((REPO / "examples").glob("*.jpg")):
        rgb = np.asarray(Image.open(src).convert("RGB"))
        out.append(save_jpeg(cv2.resize(rgb, PHOTO_SIZE, interpolation=cv2.INTER_CUBIC), folder / src.name))
    return out


def page_photos(folder: Path, n: int, seed: int, small_text: bool) -> list[tuple[Path, list[dict]]]:
    from data.fonts import load_fonts
    from data.pages import PageConfig, PageRenderer

    fonts = load_fonts(REPO / "cache" / "fonts")
    size = (PHOTO_SIZE[0] // 2, PHOTO_SIZE[1] // 2) if small_text else PHOTO_SIZE
    renderer = PageRenderer(fonts, seed=seed, cfg=PageConfig(size=size, jpeg_in_render=False))
    out = []
    for i in range(n):
        page = renderer.render_detailed()
        truth = [{"text": w["text"], "box": w["box"]} for w in page.record["words"]]
        rgb = page.rgb
        if small_text:  # the photo in the middle of a larger one, framed in the colour of its edges
            dx, dy = (PHOTO_SIZE[0] - size[0]) // 2, (PHOTO_SIZE[1] - size[1]) // 2
            edges = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
            rgb = cv2.copyMakeBorder(rgb, dy, PHOTO_SIZE[1] - size[1] - dy, dx, PHOTO_SIZE[0] - size[0] - dx,
                                     cv2.BORDER_CONSTANT, value=[int(v) for v in np.median(edges, axis=0)])
            truth = [{"text": t["text"], "box": [t["box"][0] + dx, t["box"][1] + dy, t["box"][2] + dx, t["box"][3] + dy]}
                     for t in truth]
        out.append((save_jpeg(rgb, folder / f"{'small' if small_text else 'page'}{i:02d}.jpg"), truth))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=6, help="synthetic pages of each kind")
    parser.add_argument("--decoder", choices=("beam", "greedy"), default=PipelineConfig.decoder)
    parser.add_argument("--min-side", type=int, default=PipelineConfig.decode_min_side)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pipeline = Pipeline.load(PipelineConfig(decoder=args.decoder))
    print(f"models: {pipeline.model_version}; reduced decode: longest side >= {args.min_side} px")
    with tempfile.TemporaryDirectory(prefix="ocrsearch-reduced-") as tmp:
        folder = Path(tmp)
        sets: list[tuple[str, list[tuple[Path, list[dict] | None]]]] = [
            ("examples x3.3", [(p, None) for p in example_photos(folder)])]
        if args.pages:
            sets.append(("pages 12 MP", page_photos(folder, args.pages, args.seed, small_text=False)))
            sets.append(("small text", page_photos(folder, args.pages, args.seed, small_text=True)))
        for name, photos in sets:
            tally = Tally()
            for path, truth in photos:
                compare(pipeline, path, args.min_side, tally, truth)
            print(tally.line(name), flush=True)


if __name__ == "__main__":
    main()

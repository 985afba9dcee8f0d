"""Contact sheet of the binarizer and detector on real phone photos (no labels: for looking at).

    .venv/bin/python bench/contact_sheet_vision.py [--photos DIR] [--out docs/notebook_contact_sheet.jpg]

Each cell: the photo with the ink map tinted orange and the quads of the words the pipeline reports
in blue (with the default `--detector both`: the ink detector's words with the kernel net's folded
in, specks dropped), and its name and word count. Writes one JPEG.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from ocrsearch.cli_vision import draw_detections
from ocrsearch.config import PipelineConfig
from ocrsearch.imageio import load_rgb
from ocrsearch.pipeline import Pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=Path("/work/shared/data/notebook-photos/pages"))
    ap.add_argument("--out", type=Path, default=Path("docs/notebook_contact_sheet.jpg"))
    ap.add_argument("--cell", type=int, default=720, help="longest side of a cell in px")
    ap.add_argument("--cols", type=int, default=5)
    ap.add_argument("--weights", type=Path, default=None, help="binarizer weights (default: shipped, else classical)")
    ap.add_argument("--classic", action="store_true", help="the classical binarizer instead of the U-Net")
    ap.add_argument("--detector", default=PipelineConfig.detector, choices=["both", "ink", "kernel"])
    args = ap.parse_args()
    config = PipelineConfig(binarizer="classic" if args.classic else "unet", binarizer_weights=args.weights,
                            detector=args.detector)
    pipeline = Pipeline.load(config)
    cells = []
    for path in sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        rgb = load_rgb(path)
        words = pipeline.read(rgb).words
        ink = pipeline.binarizer.ink_map(rgb)
        vis = draw_detections(rgb, [np.asarray(w.quad, np.float32) for w in words], ink)
        s = args.cell / max(vis.shape[:2])
        vis = cv2.resize(vis, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        cell = np.full((args.cell, args.cell, 3), 255, np.uint8)
        cell[: vis.shape[0], : vis.shape[1]] = vis
        cv2.putText(cell, f"{path.name}: {len(words)} words", (8, args.cell - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
        cells.append(cell)
    rows = math.ceil(len(cells) / args.cols)
    sheet = np.full((rows * args.cell, args.cols * args.cell, 3), 255, np.uint8)
    for k, cell in enumerate(cells):
        r, c = divmod(k, args.cols)
        sheet[r * args.cell : (r + 1) * args.cell, c * args.cell : (c + 1) * args.cell] = cell
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{args.out}: {len(cells)} photos")


if __name__ == "__main__":
    main()

"""Contact sheets of the synthetic data, to look at next to real photos:

    .venv/bin/python bench/contact_sheets.py [--fonts cache/fonts] [--out docs]

docs/contact_sheet_words.png: 64 WordRenderer crops (8x8) with their labels.
docs/contact_sheet_pages.jpg: 6 page photos (whiteboard, flipchart, sticky notes, notebooks),
downscaled, each beside a copy with its ground-truth word boxes (red) and line boxes (green).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from data.fonts import load_fonts, split_fonts
from data.pages import PageConfig, PageRenderer
from data.render import WordRenderer

PAGE_KINDS = ("whiteboard", "notebook", "sticky", "flipchart", "notebook", "whiteboard")


def words_sheet(fonts, seed: int, cols: int = 8, rows: int = 8, cell: tuple[int, int] = (250, 96)) -> np.ndarray:
    renderer = WordRenderer(fonts, seed=seed)
    cw, chh = cell
    sheet = np.full((rows * chh, cols * cw, 3), 255, np.uint8)
    for i in range(rows * cols):
        img, label = renderer.render()
        scale = min((chh - 26) / img.shape[0], (cw - 8) / img.shape[1])
        img = cv2.resize(img, (max(1, int(img.shape[1] * scale)), max(1, int(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
        y, x = (i // cols) * chh, (i % cols) * cw
        sheet[y + 4:y + 4 + img.shape[0], x + 4:x + 4 + img.shape[1]] = img
        # Labels are printable ASCII, which Hershey fonts draw.
        cv2.putText(sheet, label[:32], (x + 4, y + chh - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 0, 0), 1, cv2.LINE_AA)
        cv2.rectangle(sheet, (x, y), (x + cw - 1, y + chh - 1), (220, 220, 220), 1)
    return sheet


def pages_sheet(fonts, seed: int, size: tuple[int, int] = (2000, 1500), thumb: int = 640) -> np.ndarray:
    tiles = []
    for k, kind in enumerate(PAGE_KINDS):
        renderer = PageRenderer(fonts, seed=seed + k, cfg=PageConfig(size=size, kind_weights={kind: 1.0}))
        rgb, _, record = renderer.render()
        boxed = rgb.copy()
        t = max(1, size[0] // 1000)
        for line in record["lines"]:
            x0, y0, x1, y1 = line["box"]
            cv2.rectangle(boxed, (x0 - 3, y0 - 3), (x1 + 3, y1 + 3), (0, 170, 0), t)
        for word in record["words"]:
            x0, y0, x1, y1 = word["box"]
            cv2.rectangle(boxed, (x0, y0), (x1 - 1, y1 - 1), (230, 0, 0), t)
        h = int(thumb * size[1] / size[0])
        pair = [cv2.resize(im, (thumb, h), interpolation=cv2.INTER_AREA) for im in (rgb, boxed)]
        tile = np.hstack([pair[0], np.full((h, 4, 3), 255, np.uint8), pair[1]])
        cv2.putText(tile, f"{kind}: {len(record['words'])} words", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 0), 2, cv2.LINE_AA)
        tiles.append(np.pad(tile, ((4, 4), (4, 4), (0, 0)), constant_values=255))
    rows = [np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles), 2)]
    return np.vstack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fonts", type=Path, default=Path("cache/fonts"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fonts = split_fonts(load_fonts(args.fonts))[0]
    args.out.mkdir(parents=True, exist_ok=True)
    words = words_sheet(fonts, args.seed)
    cv2.imwrite(str(args.out / "contact_sheet_words.png"), cv2.cvtColor(words, cv2.COLOR_RGB2BGR))
    pages = pages_sheet(fonts, args.seed)
    cv2.imwrite(str(args.out / "contact_sheet_pages.jpg"), cv2.cvtColor(pages, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out / 'contact_sheet_words.png'} and {args.out / 'contact_sheet_pages.jpg'}")


if __name__ == "__main__":
    main()

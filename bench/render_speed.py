"""Rendering speed of the synthetic data engine on one core: word crops per second (target >= 300)
and seconds per 2000x1500 page photo including JPEG (target <= 0.5 s).

    .venv/bin/python bench/render_speed.py [--words 300] [--pages 10] [--fonts cache/fonts]

Each figure follows a warm-up (font loading, glyph caches). Wall time and process CPU time are both
printed, with the load average: on a machine shared with training, CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from data.fonts import load_fonts, split_fonts  # noqa: E402
from data.pages import PageConfig, PageRenderer  # noqa: E402
from data.render import WordRenderer  # noqa: E402


def timed(fn, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fonts", type=Path, default=Path("cache/fonts"))
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core: OpenCV's thread pool would otherwise spread over all of them
    fonts = split_fonts(load_fonts(args.fonts))[0]
    print(f"{len(fonts)} training fonts; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    words = WordRenderer(fonts, seed=args.seed)
    timed(words.render, 2 * args.words)  # glyph caches fill up over the first few hundred crops
    wall, cpu = timed(words.render, args.words)
    print(f"word crops: {args.words / wall:7.1f} /s wall, {args.words / cpu:7.1f} /s cpu   (target >= 300)")

    pages = PageRenderer(fonts, seed=args.seed, cfg=PageConfig(size=(2000, 1500)))
    timed(pages.render, 2)
    wall, cpu = timed(pages.render, args.pages)
    print(f"2000x1500 page: {wall / args.pages:6.3f} s wall, {cpu / args.pages:6.3f} s cpu   (target <= 0.5 s)")


if __name__ == "__main__":
    main()

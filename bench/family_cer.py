"""Recognizer CER per training font family, on fresh renders of our own engine (never synth-dev).

    .venv/bin/python bench/family_cer.py [--weights W] [--per 40] [--above 0.2]

Why: a family the recognizer reads badly needs more of the training crops than a uniform draw
gives it. The last line lists the families whose CER is above `--above`, comma-separated, ready
for `ocrsearch data words --families ...`. The renders use seeds of their own (777000 + k), so the
figures do not come from crops any training set holds."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.fonts import load_fonts, split_fonts  # noqa: E402
from data.render import WordRenderer  # noqa: E402
from recognizer.evaluate import score  # noqa: E402
from recognizer.infer import Recognizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None, help="Recognizer weights (default: the shipped ones).")
    parser.add_argument("--fonts", default="cache/fonts")
    parser.add_argument("--per", type=int, default=40, help="Crops rendered per family.")
    parser.add_argument("--above", type=float, default=0.2, help="List the families with a CER above this.")
    parser.add_argument("--show", type=int, default=25, help="Print the hardest N families.")
    args = parser.parse_args()

    train, _ = split_fonts(load_fonts(Path(args.fonts)))
    by_family = defaultdict(list)
    for spec in train:
        by_family[spec.family].append(spec)
    recognizer = Recognizer.load(args.weights, decoder="greedy")

    rows = []  # (cer, family, edits, characters)
    for k, (family, specs) in enumerate(sorted(by_family.items())):
        renderer = WordRenderer(specs, seed=777000 + k)
        crops, texts = zip(*(renderer.render() for _ in range(args.per)))
        readings = recognizer.recognize(list(crops))
        chars = sum(map(len, texts))
        cer = score([r.text for r in readings], list(texts), seconds=1.0).cer
        rows.append((cer, family, cer * chars, chars))

    rows.sort(reverse=True)
    total_edits, total_chars = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{len(rows)} families x {args.per} crops, greedy: CER {total_edits / total_chars:.3f}")
    for cer, family, edits, _ in rows[:args.show]:
        print(f"  {family:28s} CER {cer:.3f}  ({edits / total_edits:.0%} of all edits)")
    hard = [family for cer, family, _, _ in rows if cer > args.above]
    print(f"{len(hard)} families above CER {args.above}: {','.join(hard)}")


if __name__ == "__main__":
    main()

"""Build .devkit/, what a GPU machine without network needs to train the recognizer.

The lent GPU machines have torch, OpenCV, Pillow, fontTools and typer but nothing from PyPI beyond
their image, and every call carries at most 64 MiB. So the kit holds:
- the training fonts, with the large CJK families cut down to the printable-ASCII glyphs we render;
- a stand-in for `wordfreq` answering the two calls data/text.py makes, from a 50k-word table;
- wheels for what the image lacks (rapidfuzz, for validation CER);
- the real and wild training sets, packed as 32 px strips (data/words.py format).

Usage: python scripts/gpu/make_kit.py [--kit .devkit] then see scripts/gpu/train_recognizer.sh."""

from __future__ import annotations

import argparse
import shutil
import string
from dataclasses import replace
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

from data.fonts import load_fonts, split_fonts, write_manifest
from data.readers import open_dataset
from data.words import pack_dataset

SHIM = '''"""Stand-in for wordfreq on machines without it: the calls data/text.py makes, from vocab.tsv."""
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _table():
    rows = [line.split("\\t") for line in (Path(__file__).parent / "vocab.tsv").read_text().splitlines()]
    return [w for w, _ in rows], {w: float(z) for w, z in rows}


def top_n_list(lang, n, **_):
    return _table()[0][:n]


def zipf_frequency(word, lang, **_):
    return _table()[1].get(word, 0.0)
'''


def build_fonts(kit: Path) -> None:
    train, _held = split_fonts(load_fonts(Path("cache/fonts")))  # held-out families never travel
    out = kit / "fonts"
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for spec in train:
        src = Path(spec.path)
        dst = out / f"{spec.family}__{src.name}"
        if src.stat().st_size > 1_000_000:  # CJK families: keep only the glyphs we draw
            font = TTFont(src, lazy=True)
            options = subset.Options()
            options.name_IDs = ["*"]
            options.drop_tables += ["gasp"]  # malformed in one Debian font; hinting hints only
            sub = subset.Subsetter(options)
            sub.populate(text=string.printable)
            sub.subset(font)
            font.save(dst)
        else:
            shutil.copyfile(src, dst)
        copies.append(replace(spec, path=str(dst)))
    write_manifest(copies, out / "fonts.tsv")
    # The Debian packages of ../shared/fonts/train.txt on their own, for `--fonts KIT/fonts/debian.tsv`
    # (a copied file no longer says where it came from).
    debian = [copy for spec, copy in zip(train, copies) if spec.path.startswith("/usr/share/fonts")]
    write_manifest(debian, out / "debian.tsv")


def build_shim(kit: Path) -> None:
    from wordfreq import top_n_list, zipf_frequency

    pkg = kit / "shim" / "wordfreq"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(SHIM)
    words = top_n_list("en", 50000)
    (pkg / "vocab.tsv").write_text("".join(f"{w}\t{zipf_frequency(w, 'en')}\n" for w in words))


def fetch_wheels(kit: Path) -> None:
    """The rapidfuzz wheel for the GPU image's Python (3.12, x86-64), same version as here."""
    import subprocess
    import sys
    from importlib.metadata import version

    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp",
                    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux2014_x86_64", "-d", str(kit / "whl"), f"rapidfuzz=={version('rapidfuzz')}"],
                   check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kit", type=Path, default=Path(".devkit"))
    parser.add_argument("--pack", nargs="*", default=[], metavar="SRC=NAME",
                        help="labelled sets to pack into KIT/data/NAME")
    args = parser.parse_args()
    build_fonts(args.kit)
    build_shim(args.kit)
    if not list((args.kit / "whl").glob("rapidfuzz-*.whl")):
        fetch_wheels(args.kit)
    for item in args.pack:
        src, name = item.split("=")
        n = pack_dataset(open_dataset(src), args.kit / "data" / name)
        print(f"packed {n} crops from {src} into {args.kit / 'data' / name}")


if __name__ == "__main__":
    main()

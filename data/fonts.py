"""Handwriting fonts for the synthetic data engine.

Two sources: Google handwriting families packed from npm (`@fontsource/<name>`, woff2 files that
Pillow reads directly) and the Debian font packages listed in ../shared/fonts/train.txt. Families
reserved for evaluation (../shared/fonts/holdout.txt) are refused here, whatever the source, so no
training data can ever be rendered with them.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

FAMILIES_FILE = Path(__file__).with_name("families.txt")

# Normalised (lowercase, letters and digits only) names of the holdout families, and the names their
# files carry. Kept in code, not read from ../shared, so that the exclusion holds on any machine.
HOLDOUT_KEYS = (
    "dkghandwriting",
    "becauseweorganize",
    "becauseweconnect",
    "stevehand",
    "kaushanscript",
    "kaushan",
    "kristi",
    "yuseimagic",
    "rufscript",
)

PRINTABLE = "".join(chr(c) for c in range(32, 127))

# Debian handwriting fonts that training may use (../shared/fonts/train.txt); family, flags.
DEBIAN_TRAIN_FONTS: tuple[tuple[str, str, str], ...] = (
    ("/usr/share/fonts/truetype/breip/Breip.ttf", "breip", ""),
    ("/usr/share/fonts/truetype/breip/breipfont.ttf", "breip", ""),
    ("/usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf", "bwht-build", "caps"),
    ("/usr/share/fonts/opentype/bwht/BecauseWeCreate-Regular.otf", "bwht-create", "caps"),
    ("/usr/share/fonts/opentype/bwht/BecauseWeLearn-Regular.otf", "bwht-learn", "caps"),
    ("/usr/share/fonts/opentype/bwht/BecauseWeMentor-Regular.otf", "bwht-mentor", "caps"),
    ("/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf", "humor-sans", "caps"),
    ("/usr/share/fonts/truetype/sjfonts/Delphine.ttf", "sjfonts-delphine", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-BoldItalic.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-Light.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/comic-neue/ComicNeue-LightItalic.otf", "comic-neue", ""),
    ("/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf", "dancingscript", "script"),
    ("/usr/share/fonts/opentype/dancingscript/DancingScript-Bold.otf", "dancingscript", "script"),
    ("/usr/share/fonts/truetype/cabinsketch/CabinSketch-Regular.ttf", "cabinsketch", ""),
    ("/usr/share/fonts/truetype/cabinsketch/CabinSketch-Bold.ttf", "cabinsketch", ""),
    ("/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf", "klee", ""),
    ("/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf", "klee", ""),
    ("/usr/share/fonts/truetype/ecolier-court/Ecolier-court.ttf", "ecolier-court", "script"),
    ("/usr/share/fonts/truetype/tomsontalks/TomsonTalks.ttf", "tomsontalks", "caps"),
    ("/usr/share/fonts/truetype/leckerli-one/LeckerliOne-Regular.ttf", "leckerli-one", "script"),
    ("/usr/share/fonts/truetype/seto/setofont.ttf", "seto", ""),
    ("/usr/share/fonts/truetype/kiloji/kiloji.ttf", "kiloji", ""),
    ("/usr/share/fonts/truetype/kiloji/kiloji_b.ttf", "kiloji", ""),
    ("/usr/share/fonts/truetype/kiloji/kiloji_d.ttf", "kiloji", ""),
    ("/usr/share/fonts/truetype/kiloji/kiloji_p.ttf", "kiloji", ""),
    ("/usr/share/fonts/opentype/havana/Havana-Regular.otf", "havana", "script"),
    ("/usr/share/fonts/opentype/lobster/lobster.otf", "lobster", "script"),
)


def missing_debian_packages() -> list[str]:
    """Debian packages whose training fonts are not installed. Their families are the ones
    synth-dev and many notes are written in; without them training silently renders npm families
    alone (session 11's 300k crops did, and read synth-dev worse)."""
    # Every package installs under /usr/share/fonts/<format>/<name>/ and is named fonts-<name>.
    return sorted({f"fonts-{Path(path).parent.name}" for path, _, _ in DEBIAN_TRAIN_FONTS if not Path(path).exists()})


@dataclass(frozen=True)
class FontSpec:
    """One font file the renderer may use, with the characters it can draw."""

    path: str
    family: str
    flags: str = ""  # "caps" (capitals-only design) and/or "script" (connected)
    charset: str = PRINTABLE

    @property
    def caps_only(self) -> bool:
        return "caps" in self.flags


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_holdout(*names: str) -> bool:
    """True when any of the names (family, file name, package) belongs to a holdout family."""
    return any(key in normalise(n) for n in names for key in HOLDOUT_KEYS)


def read_family_list(path: Path = FAMILIES_FILE) -> list[tuple[str, str]]:
    families: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, *flags = line.split()
            families.setdefault(name, " ".join(flags))
    return list(families.items())


def font_charset(path: str) -> str:
    """The printable ASCII characters the font has a glyph for."""
    font = TTFont(path, lazy=True, fontNumber=0)
    cmap = font.getBestCmap() or {}
    font.close()
    return "".join(ch for ch in PRINTABLE if ord(ch) in cmap or ch == " ")


def _npm_pack(family: str, workdir: Path) -> Path | None:
    result = subprocess.run(
        ["npm", "pack", f"@fontsource/{family}", "--silent"],
        cwd=workdir, capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        return None
    tgz = workdir / result.stdout.strip().splitlines()[-1]
    return tgz if tgz.exists() else None


def woff2_to_ttf(path: Path) -> Path:
    """Decompress a woff2 file to a plain sfnt next to it: FreeType then opens it ~10x faster,
    which matters when renderers in several processes load 200 fonts at many sizes."""
    out = path.with_suffix(".ttf")
    if not out.exists():
        font = TTFont(path)
        font.flavor = None
        font.save(out)
    return out


def fetch_npm_family(family: str, out_dir: Path) -> list[Path]:
    """Unpack the latin woff2 files of one @fontsource family into out_dir/<family>/ as .ttf."""
    if is_holdout(family):
        return []
    dest = out_dir / family
    existing = sorted(dest.glob("*.woff2"))
    if existing:
        return [woff2_to_ttf(p) for p in existing]
    with tempfile.TemporaryDirectory() as tmp:
        tgz = _npm_pack(family, Path(tmp))
        if tgz is None:
            return []
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                # Latin subset only: it covers printable ASCII; italics are kept as extra variety.
                if re.fullmatch(rf"{re.escape(family)}-latin-\d+-(normal|italic)\.woff2", name):
                    source = tar.extractfile(member)
                    if source is not None:
                        (dest / name).write_bytes(source.read())
    return [woff2_to_ttf(p) for p in sorted(dest.glob("*.woff2"))]


def gather_fonts(cache_dir: Path, npm: bool = True, debian: bool = True,
                 families: Iterable[tuple[str, str]] | None = None,
                 progress=None) -> list[FontSpec]:
    """Collect every usable training font into cache_dir and write its manifest fonts.tsv."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    specs: list[FontSpec] = []
    if npm and shutil.which("npm"):
        family_list = list(families if families is not None else read_family_list())
        for family, flags in family_list:
            for path in fetch_npm_family(family, cache_dir / "npm"):
                specs.append(FontSpec(str(path), family, flags))
            if progress:
                progress(family)
    if debian:
        for path, family, flags in DEBIAN_TRAIN_FONTS:
            if Path(path).exists():
                specs.append(FontSpec(path, family, flags))
    usable = []
    for spec in specs:
        if is_holdout(spec.family, Path(spec.path).name):
            continue
        try:
            charset = font_charset(spec.path)
        except Exception:  # noqa: BLE001 - a broken font file is skipped, not fatal
            continue
        # A font missing most lowercase letters cannot teach reading; caps designs are handled
        # by upper-casing the label instead.
        if sum(c.isalpha() for c in charset) < 26:
            continue
        usable.append(FontSpec(spec.path, spec.family, spec.flags, charset))
    write_manifest(usable, cache_dir / "fonts.tsv")
    return usable


def write_manifest(specs: list[FontSpec], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        for s in specs:
            writer.writerow([s.path, s.family, s.flags, s.charset])


def load_fonts(source: Path) -> list[FontSpec]:
    """Fonts from a manifest (fonts.tsv, or a folder holding one) or a folder of font files."""
    source = Path(source)
    manifest = source / "fonts.tsv" if source.is_dir() else source
    if manifest.is_file():
        specs = []
        with manifest.open(newline="") as f:
            for row in csv.reader(f, delimiter="\t"):  # the quoting `write_manifest` writes
                path, family, flags, charset = (row + ["", "", "", ""])[:4]
                specs.append(FontSpec(path, family, flags, charset or PRINTABLE))
    else:
        specs = [FontSpec(str(p), p.stem.split("-")[0].lower(), "", font_charset(str(p)))
                 for p in sorted(source.rglob("*")) if p.suffix.lower() in {".ttf", ".otf", ".woff2", ".woff"}]
    specs = [s for s in specs if not is_holdout(s.family, Path(s.path).name)]
    if not specs:
        raise FileNotFoundError(f"{source}: no usable fonts (run `ocrsearch data fonts` first)")
    return specs


def split_fonts(specs: list[FontSpec], held_out_fraction: float = 0.1) -> tuple[list[FontSpec], list[FontSpec]]:
    """Split by family (never by file), deterministically from the family name: the held-out part
    measures whether the recognizer learned handwriting or just the training fonts."""
    import hashlib

    def held_out(family: str) -> bool:
        digest = hashlib.md5(family.encode()).digest()
        return digest[0] / 256 < held_out_fraction

    train = [s for s in specs if not held_out(s.family)]
    held = [s for s in specs if held_out(s.family)]
    return train, held

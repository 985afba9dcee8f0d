"""`ocrsearch data ...`: fonts, synthetic words and pages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

data_app = typer.Typer(help="Synthetic training data: fonts, word crops, page photos.", no_args_is_help=True)

DEFAULT_FONT_CACHE = Path("cache/fonts")


def _fonts(font_dir: Path, held_out: bool = False, source: str = "all", families: str = ""):
    from data.fonts import load_fonts, split_fonts

    train, held = split_fonts(load_fonts(font_dir))
    specs = held if held_out else train
    if source not in ("all", "debian", "npm"):
        raise typer.BadParameter(f"--source must be all, debian or npm, not {source!r}")
    if source != "all":
        # Debian packages install under /usr/share/fonts; npm families are unpacked into the cache.
        specs = [s for s in specs if s.path.startswith("/usr/share/fonts") == (source == "debian")]
    if families:
        wanted = {f.strip() for f in families.split(",") if f.strip()}
        unknown = wanted - {s.family for s in specs}
        if unknown:
            raise typer.BadParameter(f"--families: {', '.join(sorted(unknown))} not among the "
                                     f"{'held-out' if held_out else 'training'} {source} families in {font_dir}")
        specs = [s for s in specs if s.family in wanted]
    if not specs:
        raise typer.BadParameter(f"no {source} fonts in {font_dir} (run `ocrsearch data fonts` first)")
    return specs


@data_app.command("fonts")
def fonts(
    cache: Path = typer.Option(DEFAULT_FONT_CACHE, help="Folder to gather the fonts into (manifest: fonts.tsv)."),
    npm: bool = typer.Option(True, help="Fetch Google handwriting families with `npm pack @fontsource/...`."),
    debian: bool = typer.Option(True, help="Use the installed Debian handwriting font packages."),
) -> None:
    """Gather handwriting fonts (holdout families are always excluded)."""
    from data.fonts import gather_fonts, missing_debian_packages, split_fonts

    specs = gather_fonts(cache, npm=npm, debian=debian, progress=lambda f: typer.echo(f"  {f}", err=True))
    missing = missing_debian_packages() if debian else []
    if missing:
        typer.echo(f"warning: {len(missing)} Debian font packages are not installed, so their families will not "
                   f"be rendered: apt-get install {' '.join(missing)}", err=True)
    train, held = split_fonts(specs)
    typer.echo(f"{len(specs)} font files, {len({s.family for s in specs})} families in {cache}/fonts.tsv "
               f"({len({s.family for s in held})} families kept out of training for evaluation)")


@data_app.command("words")
def words(
    out: Path = typer.Option(..., help="Output folder: words/*.png and labels.tsv."),
    n: int = typer.Option(1000, help="Number of crops."),
    seed: int = typer.Option(0),
    fonts_dir: Path = typer.Option(DEFAULT_FONT_CACHE, "--fonts", help="Font cache from `ocrsearch data fonts`."),
    held_out_fonts: bool = typer.Option(False, help="Render with the families kept out of training (evaluation sets)."),
    packed: bool = typer.Option(False, help="Write a packed training cache (shard_*.npz of 32 px strips) instead of PNGs."),
    workers: int = typer.Option(2, help="Rendering processes (packed mode)."),
    source: str = typer.Option("all", help="Font source: all, debian (installed packages) or npm (Google families)."),
    families: str = typer.Option("", help="Only these families, comma-separated (for example the hardest ones "
                                 "`bench/family_cer.py` lists)."),
) -> None:
    """Render synthetic handwritten word and phrase crops."""
    from data.words import pack_word_cache, write_word_set

    specs = _fonts(fonts_dir, held_out_fonts, source, families)
    if packed:
        shards = pack_word_cache(out, n, specs, seed=seed, workers=workers)
        typer.echo(f"{n} crops in {len(shards)} shards under {out}")
    else:
        labels = write_word_set(out, n, specs, seed=seed)
        typer.echo(f"{n} crops, labels in {labels}")


@data_app.command("pages")
def pages(
    out: Path = typer.Option(..., help="Output folder: pages/*.jpg, masks/*.png, pages.jsonl."),
    n: int = typer.Option(20, help="Number of photos."),
    seed: int = typer.Option(0),
    fonts_dir: Path = typer.Option(DEFAULT_FONT_CACHE, "--fonts"),
    held_out_fonts: bool = typer.Option(False),
    width: int = typer.Option(2000),
    height: int = typer.Option(1500),
) -> None:
    """Render synthetic photos of boards, flipcharts, sticky notes and notebook pages."""
    from data.pages import write_page_set

    specs = _fonts(fonts_dir, held_out_fonts)
    path = write_page_set(out, n, specs, seed=seed, size=(width, height))
    typer.echo(f"{n} pages, ground truth in {path}")


@data_app.command("crops")
def crops(
    pages: Path = typer.Argument(..., help="A pages.jsonl set (or its folder) with word boxes."),
    out: Path = typer.Option(..., help="Output folder: words/*.png and labels.tsv."),
    limit: int = typer.Option(0, help="Only the first N pages (0 = all)."),
) -> None:
    """Cut word crops with our own binarizer and detector, labelled from the ground truth ("wild" data)."""
    from data.wild import cut_wild_crops

    counts = cut_wild_crops(pages, out, limit=limit)
    typer.echo(f"{counts['kept']} crops from {counts['pages']} pages ({counts['gt_words']} ground-truth words; "
               f"{counts['dropped']} detections matched no whole word) in {out}/labels.tsv")


@data_app.command("pack")
def pack(
    source: str = typer.Argument(..., help="A labelled set: labels.tsv folder, pages.jsonl, IAM words.txt, MJSynth file."),
    out: Path = typer.Option(..., help="Output folder of shard_*.npz (32 px gray strips)."),
) -> None:
    """Pack a labelled set into recognizer strips: training then decodes each crop once."""
    from data.readers import open_dataset
    from data.words import pack_dataset

    n = pack_dataset(open_dataset(source), out)
    typer.echo(f"{n} crops packed under {out}")


@data_app.command("split")
def split(
    labels: Path = typer.Argument(..., help="labels.tsv (or its folder) of crops named DOCUMENT_lNNN.ext"),
    out: Path = typer.Option(..., help="Writes OUT/train/labels.tsv and OUT/val/labels.tsv."),
    val_fraction: float = typer.Option(0.1),
    seed: int = typer.Option(0),
) -> None:
    """Split labelled crops into train and validation by source document."""
    from data.splits import split_labels_by_document

    counts = split_labels_by_document(labels, out, val_fraction, seed)
    typer.echo(f"train {counts['train']} crops, val {counts['val']} crops under {out}")

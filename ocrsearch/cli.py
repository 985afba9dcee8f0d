"""The `ocrsearch` command line: parses options, calls the library, prints. No logic of its own.

JSON forms of `search`, `read` and `recognize` are a contract (DESIGN.md §2): the benchmark scorer
and users' scripts parse them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ocrsearch import __version__
from ocrsearch.cli_data import data_app
from ocrsearch.cli_train import eval_app, export_app, train_app
from ocrsearch.cli_vision import register_vision_commands
from ocrsearch.config import FAKE_PIPELINE_ENV_VAR, RECOGNIZE_STRETCH_BELOW, RECOGNIZE_TRIM_MARGINS, IngestConfig, PipelineConfig, SearchConfig, db_layout
if TYPE_CHECKING:  # the pipeline (cv2, numpy) is imported by the commands that read photos, not by `search`
    from ocrsearch.pipeline import PhotoResult, ReaderFactory

app = typer.Typer(help="Find photos of whiteboards and handwritten pages by the words written on them.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(export_app, name="export")
register_vision_commands(app, train_app, eval_app)

DbOption = Annotated[Optional[Path], typer.Option(
    "--db", help="Database folder (SQLite + index). Default: $OCRSEARCH_DB, else the per-user data folder.",
    file_okay=False, show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (see DESIGN.md §2).")]
DecoderOption = Annotated[str, typer.Option(
    "--decoder", envvar="OCRSEARCH_DECODER", help="Recognizer decoding: beam (word LM, alternates for the index) or greedy (faster).")]
RecognizerWeightsOption = Annotated[Optional[Path], typer.Option(
    "--recognizer-weights", envvar="OCRSEARCH_RECOGNIZER_WEIGHTS", dir_okay=False, show_default=False,
    help="Recognizer checkpoint to use instead of the shipped recognizer/weights/recognizer.pt.")]
RecognizerBackendOption = Annotated[str, typer.Option(
    "--recognizer-backend", envvar="OCRSEARCH_RECOGNIZER_BACKEND",
    help="auto (the ONNX export beside the weights when it was made from them, else torch), onnx or torch.")]
BinarizerOption = Annotated[str, typer.Option(
    "--binarizer", envvar="OCRSEARCH_BINARIZER",
    help="unet (the shipped U-Net; the classical one where no weights ship) or classic (background-normalised threshold).")]
DetectorOption = Annotated[str, typer.Option(
    "--detector", envvar="OCRSEARCH_DETECTOR",
    help="both (default: the ink words, with the learned kernel net's words folded in as alternates, or added where "
         "ink found none), ink (word boxes grouped from the ink map alone: ~0.2 s faster per photo) or kernel "
         "(the learned word-kernel U-Net alone, detector/weights/kernel.pt).")]
FullResolutionOption = Annotated[bool, typer.Option(
    "--full-resolution", envvar="OCRSEARCH_FULL_RESOLUTION",
    help="Decode JPEGs at full size: slower, but reads small writing on large photos better.")]
WaitOption = Annotated[float, typer.Option(
    "--wait", min=0, help="Seconds to wait for another process writing to the database before giving up.")]

RECOGNIZE_CHUNK = 256  # crops decoded and recognized per call, to bound memory on long lists


def _fail(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise typer.Exit(code)


def _report_error(path: str, reason: str) -> None:
    print(f"{path}: {reason}", file=sys.stderr, flush=True)


def _pipeline_config(decoder: str, recognizer_weights: Optional[Path], full_resolution: bool = False,
                     recognizer_backend: str = "auto", binarizer: str = "unet", detector: str = PipelineConfig.detector) -> PipelineConfig:
    _check_decoder(decoder)
    if recognizer_backend not in ("auto", "onnx", "torch"):
        raise typer.BadParameter(f"unknown backend {recognizer_backend!r} (auto, onnx or torch)",
                                 param_hint="--recognizer-backend")
    if binarizer not in ("unet", "classic"):
        raise typer.BadParameter(f"unknown binarizer {binarizer!r} (unet or classic)", param_hint="--binarizer")
    if detector not in ("ink", "kernel", "both"):
        raise typer.BadParameter(f"unknown detector {detector!r} (ink, kernel or both)", param_hint="--detector")
    config = PipelineConfig(decoder=decoder, recognizer_weights=recognizer_weights, recognizer_backend=recognizer_backend,
                            binarizer=binarizer, detector=detector)
    return replace(config, decode_min_side=None) if full_resolution else config


def _check_decoder(decoder: str) -> None:
    if decoder not in ("greedy", "beam"):
        raise typer.BadParameter(f"unknown decoder {decoder!r} (greedy or beam)", param_hint="--decoder")


def _fake_models() -> bool:
    return os.environ.get(FAKE_PIPELINE_ENV_VAR) == "1"  # test hook, see ocrsearch/fakes.py


def _reader_factory(config: PipelineConfig) -> ReaderFactory:
    if _fake_models():
        from ocrsearch.fakes import SidecarReader

        return functools.partial(SidecarReader.from_env, config.limits)
    from ocrsearch.pipeline import PipelineReader

    return functools.partial(PipelineReader.load, config)


def _version(value: bool) -> None:
    if value:
        print(f"ocrsearch {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """Find photos of whiteboards and handwritten pages by the words written on them."""


# ----------------------------------------------------------------------------------------------
# ingest
# ----------------------------------------------------------------------------------------------


class _PhotosPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} photos/s" if speed else "- photos/s")


@app.command()
def ingest(paths: Annotated[list[Path], typer.Argument(help="Photos or folders (searched recursively).")],
           db: DbOption = None,
           workers: Annotated[int, typer.Option("--workers", min=0, help="Photos read in parallel processes (0: one "
                                                "per core when 8 or more photos are new or changed).")] = IngestConfig.workers,
           prune: Annotated[bool, typer.Option("--prune", help="Forget photos under PATH whose files are gone.")] = False,
           force: Annotated[bool, typer.Option("--force", help="Read every photo again, unchanged ones too: after "
                                               "an upgrade of the models, or to apply other reading options.")] = False,
           decoder: DecoderOption = "beam",
           recognizer_weights: RecognizerWeightsOption = None,
           recognizer_backend: RecognizerBackendOption = "auto",
           binarizer: BinarizerOption = "unet",
           detector: DetectorOption = PipelineConfig.detector,
           full_resolution: FullResolutionOption = False,
           wait: WaitOption = IngestConfig.lock_timeout_s) -> None:
    """Read new and changed photos into the database; unchanged ones are skipped."""
    from ocrsearch.ingest import DatabaseBusy, ingest as run_ingest
    from ocrsearch.pipeline import ReaderLoadError

    config = _pipeline_config(decoder, recognizer_weights, full_resolution, recognizer_backend, binarizer, detector)
    layout = db_layout(db)
    make_reader = _reader_factory(config)
    progress = None
    if sys.stderr.isatty():
        progress = Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), _PhotosPerSecond(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
    task_id = None
    printed: set[str] = set()

    def on_start(total: int) -> None:
        nonlocal task_id
        if progress is not None and total:
            progress.start()
            task_id = progress.add_task("photos", total=total)

    def on_photo(result: PhotoResult) -> None:
        if not result.ok:  # failures are reported as they happen, above the progress bar
            printed.add(result.path)
            if progress is not None:
                progress.console.print(f"{result.path}: {result.error}", markup=False, highlight=False)
            else:
                _report_error(result.path, result.error or "unknown error")
        if progress is not None and task_id is not None:
            progress.advance(task_id)

    try:
        report = run_ingest(paths, layout, make_reader, config=IngestConfig(lock_timeout_s=wait, workers=workers),
                            prune=prune, force=force, on_start=on_start, on_photo=on_photo)
    except (DatabaseBusy, ReaderLoadError) as e:
        _fail(str(e))
    except _store_errors() as e:
        _fail(str(e))
    finally:
        if progress is not None:
            progress.stop()
    for path, reason in report.failed:
        if path not in printed:  # missing paths and unreadable files never reached the reader
            _report_error(path, reason)
    print(report.summary())
    if report.unchanged and not force and config != PipelineConfig():
        # Unchanged photos are skipped whatever the options say: say so, or the options seem ignored
        print(f"{len(report.unchanged)} unchanged photos keep the words they were read with before; "
              f"add --force to read them again with these options", file=sys.stderr)
    if not report.ok:
        raise typer.Exit(1)


def _store_errors() -> tuple[type[Exception], ...]:
    from ocrsearch.store import StoreError
    from ocrsearch.words import SchemaMismatch

    return StoreError, SchemaMismatch


# ----------------------------------------------------------------------------------------------
# search and show
# ----------------------------------------------------------------------------------------------


@app.command()
def search(query: Annotated[str, typer.Argument(help='Words, "a phrase", or a prefix*.')],
           db: DbOption = None,
           limit: Annotated[int, typer.Option("--limit", min=1, help="Most photos to list.")] = 10,
           json_output: JsonOption = False,
           show: Annotated[Optional[Path], typer.Option(
               "--show", file_okay=False, help="Also write each photo with its matched words boxed into this folder.")] = None,
           ) -> None:
    """Rank photos by the words read on them."""
    from ocrsearch.index import Index
    from ocrsearch.search import PhotoSearcher

    layout = db_layout(db)
    try:
        # _open_words migrates the database first when it must, so the index opens at the current schema
        with _open_words(layout) as words, Index(layout.sqlite_path) as index:
            result = PhotoSearcher(words, index, SearchConfig()).search(query, limit)
    except FileNotFoundError as e:
        _fail(str(e))
    except _store_errors() as e:
        _fail(str(e))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if json_output:
        print(json.dumps([hit.to_json() for hit in result.hits], ensure_ascii=False))
    else:
        _print_hits(result.hits)
    if show is not None:
        _write_hit_images(result.hits, show)


def _open_words(layout):
    """Stored words for a search: plain sqlite3 when the schema is current (SQLAlchemy's import is a
    third of a cold search), else through the Store, which migrates the database first."""
    from ocrsearch.words import SchemaMismatch, WordReader

    try:
        return WordReader(layout.sqlite_path).open()
    except SchemaMismatch:
        from ocrsearch.store import Store

        Store(layout.sqlite_path, create=False).open().close()
        return WordReader(layout.sqlite_path).open()


def _print_hits(hits) -> None:
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    if not hits:
        console.print("no photos match")
        return
    table = Table(show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("photo", overflow="fold")
    table.add_column("matched words (confidence)", overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        words = ", ".join(_describe_match(m) for m in hit.matches[:8])
        if len(hit.matches) > 8:
            words += f", ... (+{len(hit.matches) - 8})"
        table.add_row(str(rank), f"{hit.score:.2f}", hit.photo, words)
    console.print(table)


def _describe_match(match) -> str:
    return match.describe()  # the word, its confidence, and how it matched (search.WordMatch.describe)


def _write_hit_images(hits, folder: Path) -> None:
    from ocrsearch.draw import save_matches
    from ocrsearch.imageio import PhotoError, load_rgb

    for rank, hit in enumerate(hits, start=1):
        try:
            rgb = load_rgb(hit.photo)
        except PhotoError as e:
            _report_error(e.path, e.reason)
            continue
        out = save_matches(rgb, hit.matches, folder / f"{rank:02d}-{Path(hit.photo).stem}.png")
        print(f"wrote {out}", file=sys.stderr)


@app.command()
def show(photo: Annotated[Path, typer.Argument(help="A photo in the database.")],
         query: Annotated[str, typer.Option("--query", "-q", help="Words to box.")],
         out: Annotated[Path, typer.Option("-o", "--out", dir_okay=False, help="Image to write (.png or .jpg).")],
         db: DbOption = None) -> None:
    """Draw the words of a photo that match a query."""
    from ocrsearch.draw import save_matches
    from ocrsearch.imageio import PhotoError, load_rgb
    from ocrsearch.ingest import canonical_path
    from ocrsearch.search import find_matches, parse_query
    from ocrsearch.store import Store

    layout = db_layout(db)
    path = canonical_path(photo)
    config = SearchConfig()
    try:
        with Store(layout.sqlite_path, create=False) as store:
            if store.get(path) is None:
                _fail(f"{photo}: not in the database (ingest it first)")
            words = store.words_by_path([path])[path]
    except _store_errors() as e:
        _fail(str(e))
    parsed = parse_query(query, config)
    matches = find_matches(parsed, words, config)
    try:
        rgb = load_rgb(path)
    except PhotoError as e:
        _fail(f"{photo}: {e.reason}")
    save_matches(rgb, matches, out)
    if not matches:
        print(f"{photo}: no words match {query!r}", file=sys.stderr)
    print(f"wrote {out} ({len(matches)} words boxed)")


# ----------------------------------------------------------------------------------------------
# read and recognize (no database)
# ----------------------------------------------------------------------------------------------


@app.command()
def read(photos: Annotated[list[Path], typer.Argument(help="Photos to read.")],
         json_output: JsonOption = False, decoder: DecoderOption = "beam",
         recognizer_weights: RecognizerWeightsOption = None,
         recognizer_backend: RecognizerBackendOption = "auto",
         binarizer: BinarizerOption = "unet",
         detector: DetectorOption = PipelineConfig.detector,
         full_resolution: FullResolutionOption = False,
         workers: Annotated[int, typer.Option("--workers", min=0, help="Photos read in parallel processes (0: one "
                                              "per core for 8 or more photos).")] = IngestConfig.workers) -> None:
    """Read the words on photos (boxes in pixels of the upright photo), printed in the order given."""
    from ocrsearch.pipeline import ReaderLoadError, auto_workers, read_photo_files
    config = _pipeline_config(decoder, recognizer_weights, full_resolution, recognizer_backend, binarizer, detector)
    workers = auto_workers(len(photos), IngestConfig(workers=workers))  # the same rule as ingest's
    failed = 0
    try:
        results = read_photo_files([str(p) for p in photos], _reader_factory(config), workers, ordered=True)
        for photo, result in zip(photos, results):
            if result.reading is None:
                _report_error(str(photo), result.error or "unknown error")
                failed += 1
                continue
            reading = result.reading
            if json_output:
                print(json.dumps({"image": str(photo), "width": reading.width, "height": reading.height,
                                  "words": [w.to_json() for w in reading.words]}, ensure_ascii=False), flush=True)
            else:
                _print_reading(str(photo), reading)
    except ReaderLoadError as e:  # the recognizer loads while the first photo is read
        _fail(str(e))
    if failed:
        raise typer.Exit(1)


def _print_reading(photo: str, reading) -> None:
    console = Console(highlight=False)
    table = Table(title=f"{photo} ({reading.width}x{reading.height}, {len(reading.words)} words)", title_justify="left")
    table.add_column("text")
    table.add_column("confidence", justify="right")
    table.add_column("box")
    table.add_column("alternates")
    for w in reading.words:
        table.add_row(w.text, f"{w.confidence:.2f}", " ".join(str(v) for v in w.box),
                      ", ".join(f"{t} ({c:.2f})" for t, c in w.alternates))
    console.print(table)


@app.command()
def recognize(crops: Annotated[list[Path], typer.Argument(help="Images of single words (or lines).")],
              json_output: JsonOption = False, decoder: DecoderOption = "beam",
              recognizer_weights: RecognizerWeightsOption = None,
              recognizer_backend: RecognizerBackendOption = "auto",
              stretch_below: Annotated[float, typer.Option(
                  "--stretch-below", envvar="OCRSEARCH_STRETCH_BELOW", min=0.0, max=1.0,
                  help="Crops read with less confidence than this are read again 0.9x, 1.25x and 1.5x as "
                       "wide, and whole if their margins were trimmed; the most confident reading is kept. "
                       "0: each crop read once.")] = RECOGNIZE_STRETCH_BELOW,
              trim_margins: Annotated[bool, typer.Option(
                  "--trim-margins/--no-trim-margins", envvar="OCRSEARCH_TRIM_MARGINS",
                  help="Cut the empty rows above and below the writing before reading a crop.")] = RECOGNIZE_TRIM_MARGINS) -> None:
    """Read word images with the recognizer alone."""
    from ocrsearch.imageio import PhotoError, load_rgb
    from ocrsearch.pipeline import ReaderLoadError, iter_chunks, load_recognizer

    config = replace(_pipeline_config(decoder, recognizer_weights, recognizer_backend=recognizer_backend),
                     stretch_below=stretch_below, trim_margins=trim_margins)
    try:
        if _fake_models():
            from ocrsearch.fakes import SizeRecognizer

            recognizer = SizeRecognizer()
        else:
            recognizer = load_recognizer(config)
    except Exception as e:  # noqa: BLE001 - any failure to load the model ends the command the same way
        _fail(f"cannot load the recognizer: {type(e).__name__}: {e}")
    failed = 0
    for chunk in iter_chunks(crops, RECOGNIZE_CHUNK):
        loaded: list[tuple[Path, object]] = []
        for crop in chunk:
            try:
                loaded.append((crop, load_rgb(crop)))
            except PhotoError as e:
                _report_error(str(crop), e.reason)
                failed += 1
        readings = recognizer.recognize([image for _, image in loaded]) if loaded else []
        for (crop, _), reading in zip(loaded, readings):
            if json_output:
                print(json.dumps({"image": str(crop), "text": reading.text,
                                  "confidence": round(float(reading.confidence), 4)}, ensure_ascii=False))
            else:
                print(f"{crop}\t{reading.text}\t{reading.confidence:.3f}")
        sys.stdout.flush()
    if failed:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------
# maintenance
# ----------------------------------------------------------------------------------------------


@app.command()
def reindex(db: DbOption = None, wait: WaitOption = IngestConfig.lock_timeout_s) -> None:
    """Rebuild the search index from the database (after a crash, or a new ocrsearch version)."""
    from ocrsearch.ingest import DatabaseBusy, reindex as run_reindex

    try:
        count = run_reindex(db_layout(db), IngestConfig(lock_timeout_s=wait))
    except (DatabaseBusy, *_store_errors()) as e:
        _fail(str(e))
    print(f"reindexed {count} photos")


@app.command()
def remove(paths: Annotated[list[Path], typer.Argument(help="Photos or folders to forget (files are not touched).")],
           db: DbOption = None, wait: WaitOption = IngestConfig.lock_timeout_s) -> None:
    """Forget photos: their words leave the database and the index."""
    from ocrsearch.ingest import DatabaseBusy, remove_photos

    try:
        removed, not_found = remove_photos(paths, db_layout(db), IngestConfig(lock_timeout_s=wait))
    except (DatabaseBusy, *_store_errors()) as e:
        _fail(str(e))
    for path in not_found:
        _report_error(path, "not in the database")
    print(f"removed {len(removed)} photos")
    if not_found:
        raise typer.Exit(1)


@app.command()
def stats(db: DbOption = None, json_output: JsonOption = False) -> None:
    """What the database holds."""
    from ocrsearch.index import Index
    from ocrsearch.store import Store

    layout = db_layout(db)
    try:
        with Store(layout.sqlite_path, create=False) as store:
            store_stats = store.stats()
        with Index(layout.sqlite_path) as index:
            documents = index.doc_count()
    except _store_errors() as e:
        _fail(str(e))
    figures = {"database": str(layout.root), "photos_indexed": store_stats.photos_indexed,
               "photos_failed": store_stats.photos_failed, "words": store_stats.words,
               "index_documents": documents, "schema_revision": store_stats.revision,
               "database_bytes": store_stats.file_bytes, "model_versions": store_stats.model_versions}
    if json_output:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key.replace('_', ' ')}: {value}")


if __name__ == "__main__":
    app()

"""The pipeline with fake models, and ingest: incremental, failure-tolerant, resumable, one writer."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import page
from filelock import FileLock

from ocrsearch.config import FAKE_DELAY_ENV_VAR, FAKE_PIPELINE_ENV_VAR, DbLayout, IngestConfig, PipelineConfig
from ocrsearch.fakes import SidecarReader
from ocrsearch.index import Index
from ocrsearch.ingest import DatabaseBusy, collect_photos, ingest
from ocrsearch.pipeline import (GroundTest, Pipeline, PipelineReader, ReaderLoadError, ReaderPool, auto_workers, box_iou,
                                channel_quantile, drop_specks, fold_nested, fold_words, join_fragments,
                                join_split_words, max_ious, median_colour, shear_crop, warp_word)
from ocrsearch.search import PhotoSearcher
from ocrsearch.store import PhotoInput, Store
from ocrsearch.types import Detection, Reading, Word
from recognizer.lm import Vocabulary

# ----------------------------------------------------------------------------------------------
# Pipeline with fake stages
# ----------------------------------------------------------------------------------------------


class InkFromDarkness:
    def ink_map(self, rgb: np.ndarray) -> np.ndarray:
        return 1.0 - rgb.mean(axis=2).astype(np.float32) / 255.0


class FixedDetector:
    def __init__(self, quads: list[list[list[float]]]):
        self.quads = quads
        self.seen_ink_shape: tuple[int, ...] | None = None

    def detect(self, rgb: np.ndarray, ink: np.ndarray) -> list[Detection]:
        self.seen_ink_shape = ink.shape
        return [Detection(quad=np.array(q, dtype=np.float32)) for q in self.quads]


class ScriptedRecognizer:
    """Returns the given readings in order and records each batch it was called with."""

    def __init__(self, readings: list[Reading]):
        self.readings = readings
        self.batches: list[list[np.ndarray]] = []

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        self.batches.append(crops)
        return self.readings[: len(crops)]


def _photo(width: int = 200, height: int = 100) -> np.ndarray:
    return np.full((height, width, 3), 255, dtype=np.uint8)


def test_pipeline_recognizes_all_crops_of_a_photo_in_one_batch() -> None:
    """read() warps every detected quad and calls the recognizer once with all crops."""
    quads = [[[10, 10], [60, 10], [60, 30], [10, 30]], [[80, 40], [150, 40], [150, 70], [80, 70]]]
    recognizer = ScriptedRecognizer([Reading("budget", 0.9), Reading("meeting", 0.8, [("meating", 0.1)])])
    detector = FixedDetector(quads)

    reading = Pipeline(InkFromDarkness(), detector, recognizer).read(_photo())

    assert len(recognizer.batches) == 1 and len(recognizer.batches[0]) == 2
    assert detector.seen_ink_shape == (100, 200)
    assert all(c.dtype == np.uint8 and c.ndim == 3 and c.shape[2] == 3 for c in recognizer.batches[0])
    assert (reading.width, reading.height) == (200, 100)
    assert [(w.text, w.box, w.alternates) for w in reading.words] == [
        ("budget", (10, 10, 60, 30), []), ("meeting", (80, 40, 150, 70), [("meating", 0.1)])]


def test_pipeline_drops_empty_readings_and_degenerate_quads() -> None:
    """Words read as empty text, and quads too thin to be words, produce no Word."""
    quads = [[[10, 10], [60, 10], [60, 30], [10, 30]], [[0, 0], [1, 0], [1, 1], [0, 1]],
             [[70, 10], [120, 10], [120, 30], [70, 30]]]
    recognizer = ScriptedRecognizer([Reading("  ", 0.2), Reading("kept", 0.9)])

    reading = Pipeline(InkFromDarkness(), FixedDetector(quads), recognizer).read(_photo())

    assert len(recognizer.batches[0]) == 2  # the 1-pixel quad never reached the recognizer
    assert [w.text for w in reading.words] == ["kept"]


def test_pipeline_without_detections_does_not_call_the_recognizer() -> None:
    """A blank photo has no words and costs no recognizer call."""
    recognizer = ScriptedRecognizer([])
    reading = Pipeline(InkFromDarkness(), FixedDetector([]), recognizer).read(_photo())
    assert reading.words == [] and recognizer.batches == []


def test_pipeline_clips_boxes_to_the_photo_and_checks_the_recognizer_contract() -> None:
    """Boxes stay inside the photo; a recognizer returning the wrong number of readings is an error."""
    quads = [[[-5, -5], [50, -5], [50, 20], [-5, 20]]]
    reading = Pipeline(InkFromDarkness(), FixedDetector(quads), ScriptedRecognizer([Reading("edge", 0.5)])).read(_photo())
    assert reading.words[0].box == (0, 0, 50, 20)

    with pytest.raises(RuntimeError, match="readings"):
        Pipeline(InkFromDarkness(), FixedDetector(quads), ScriptedRecognizer([])).read(_photo())


class CropSizeRecognizer:
    """Reads a crop by its height: what the loose first crop and the tight second crop read."""

    def __init__(self, by_height: dict[int, Reading]):
        self.by_height = by_height
        self.batches: list[list[np.ndarray]] = []

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        self.batches.append(crops)
        return [self.by_height[c.shape[0]] for c in crops]


def test_unsure_words_are_read_again_from_a_tight_crop_into_their_alternates() -> None:
    """A reading under `reread_below` is read once more from a crop with `reread_margin`; that
    reading and its alternates join the first reading's alternates (no duplicates, best first),
    the 1-best text stays. Sure readings are not read again, and 0 turns the pass off."""
    unsure = [[10, 10], [60, 10], [60, 30], [10, 30]]  # 20 px tall: 25 px with the 0.12 margin
    sure = [[80, 40], [150, 40], [150, 80], [80, 80]]  # 40 px tall: 50 px with the margin
    recognizer = CropSizeRecognizer({
        25: Reading("rneeting", 0.4, [("meeting", 0.3), ("rneeling", 0.1)]),
        20: Reading("meeting", 0.7, [("rneeting", 0.2), ("meefing", 0.05)]),
        50: Reading("budget", 0.95),
    })
    config = PipelineConfig(reread_below=0.6, reread_margin=0.0, reread_shears=())

    reading = Pipeline(InkFromDarkness(), FixedDetector([unsure, sure]), recognizer, config).read(_photo())

    assert [len(b) for b in recognizer.batches] == [2, 1]
    assert recognizer.batches[1][0].shape[:2] == (20, 50)
    first, second = reading.words
    assert (first.text, first.confidence) == ("rneeting", 0.4)
    assert first.alternates == [("meeting", 0.7), ("rneeling", 0.1), ("meefing", 0.05)]
    assert (second.text, second.alternates) == ("budget", [])

    recognizer.batches.clear()
    off = PipelineConfig(reread_below=0.0)
    reading = Pipeline(InkFromDarkness(), FixedDetector([unsure, sure]), recognizer, off).read(_photo())
    assert [len(b) for b in recognizer.batches] == [2]
    assert reading.words[0].alternates == [("meeting", 0.3), ("rneeling", 0.1)]


class BatchScriptedRecognizer:
    """Returns the readings scripted for each successive call, and records the crops."""

    def __init__(self, batches: list[list[Reading]]):
        self.scripted = list(batches)
        self.batches: list[list[np.ndarray]] = []

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        self.batches.append(crops)
        return self.scripted[len(self.batches) - 1][: len(crops)]


def test_very_unsure_words_are_also_read_slanted_both_ways_into_their_alternates() -> None:
    """A reading under `shear_below` is also read from its crop slanted by each of `reread_shears`
    (cursive leans, and the recognizer reads some hands better straightened or slanted more): those
    readings join its alternates, after the tight crop's. A word between `shear_below` and
    `reread_below` is only read again tight."""
    very_unsure = [[10, 10], [60, 10], [60, 30], [10, 30]]
    unsure = [[80, 40], [150, 40], [150, 80], [80, 80]]
    recognizer = BatchScriptedRecognizer([
        [Reading("clearer", 0.3), Reading("budgit", 0.6)],
        # tight crops of both, then the two slanted crops of the very unsure word
        [Reading("dearer", 0.35), Reading("budget", 0.7), Reading("dear", 0.5, [("clear", 0.2)]), Reading("clearer", 0.4)],
    ])
    config = PipelineConfig(reread_below=0.8, reread_margin=0.0, reread_shears=(0.15, -0.15), shear_below=0.5,
                            short_below=0.0, speck_below=0.0)

    reading = Pipeline(InkFromDarkness(), FixedDetector([very_unsure, unsure]), recognizer, config).read(_photo())

    assert [len(b) for b in recognizer.batches] == [2, 4]
    _, _, slanted_right, slanted_left = recognizer.batches[1]
    loose_crop = recognizer.batches[0][0]
    assert slanted_right.shape[0] == slanted_left.shape[0] == loose_crop.shape[0]
    assert slanted_right.shape[1] == slanted_left.shape[1] == loose_crop.shape[1] + round(0.15 * loose_crop.shape[0])
    first, second = reading.words
    assert (first.text, first.confidence) == ("clearer", 0.3)
    assert first.alternates == [("dear", 0.5), ("dearer", 0.35), ("clear", 0.2)]
    assert (second.text, second.alternates) == ("budgit", [("budget", 0.7)])


def test_unsure_words_of_the_second_detector_are_read_again_tight_but_not_slanted() -> None:
    """With `reread_others`, a second-detector word under `reread_below` is read again from a tight
    crop into its alternates, like an ink word; it is not read slanted, even under `shear_below`."""
    ink_word = [[10, 10], [60, 10], [60, 30], [10, 30]]
    kernel_word = [[20, 60], [90, 60], [90, 85], [20, 85]]  # where ink found nothing
    first_pass = [Reading("budget", 0.9), Reading("rneeting", 0.3)]
    recognizer = BatchScriptedRecognizer([first_pass, [Reading("meeting", 0.6)]])
    config = PipelineConfig(reread_below=0.8, reread_margin=0.0, reread_shears=(0.15, -0.15), shear_below=0.5,
                            reread_others=True)
    pipeline = Pipeline(InkFromDarkness(), FixedDetector([ink_word]), recognizer, config,
                        second_detector=FixedDetector([kernel_word]))

    reading = pipeline.read(_photo())

    assert [len(b) for b in recognizer.batches] == [2, 1]  # the sure ink word is not read again
    assert recognizer.batches[1][0].shape[:2] == (25, 70)  # tight: the quad's own size
    assert [(w.text, w.alternates) for w in reading.words] == [("budget", []), ("rneeting", [("meeting", 0.6)])]

    recognizer = BatchScriptedRecognizer([first_pass])
    off = PipelineConfig(reread_below=0.8, reread_others=False)
    Pipeline(InkFromDarkness(), FixedDetector([ink_word]), recognizer, off,
             second_detector=FixedDetector([kernel_word])).read(_photo())
    assert [len(b) for b in recognizer.batches] == [2]  # both words in one batch, and no second call


def test_shear_crop_slants_the_ink_and_widens_the_canvas() -> None:
    """A vertical bar sheared by s leans right by s x height (left for -s); the canvas grows by that
    much and its new corners take the crop's background colour."""
    crop = np.full((40, 30, 3), 230, dtype=np.uint8)
    crop[:, 10:13] = 20  # a bar three pixels wide
    for shear in (0.5, -0.5):
        out = shear_crop(crop, shear)
        assert out.shape == (40, 30 + 20, 3)
        top, bottom = (np.flatnonzero(out[row, :, 0] < 128).mean() for row in (1, 38))
        assert top - bottom == pytest.approx(shear * 37, abs=1.5)
        # two of the corners lie outside the crop: filled with its background, not black
        assert {out[0, 0, 0], out[0, -1, 0], out[-1, 0, 0], out[-1, -1, 0]} == {230}


def test_histogram_quantiles_match_numpy_on_boxes_of_a_photo() -> None:
    """channel_quantile and median_colour (histograms of a box of the photo, read in place) give
    what np.partition and np.median give on a copy: odd and even counts, flat and one-pixel boxes."""
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    photo[40:, 60:] = 90  # a flat patch
    boxes = [(slice(0, 60), slice(0, 80)), (slice(3, 20), slice(5, 30)), (slice(10, 11), slice(7, 8)),
             (slice(5, 9), slice(2, 8)), (slice(42, 55), slice(61, 79)), (slice(30, 50), slice(50, 70))]
    for rows, cols in boxes:
        box = photo[rows, cols]
        for channel in range(3):
            values = box[..., channel].ravel()
            for q in (0.0, 0.5, 0.8, 1.0):
                rank = int(q * (values.size - 1))
                assert channel_quantile(box, channel, q) == float(np.partition(values, rank)[rank])
        assert median_colour(box) == tuple(float(v) for v in np.median(box.reshape(-1, 3), axis=0))
        gray = np.ascontiguousarray(box[..., 0])
        assert median_colour(gray) == (float(np.median(gray)),)
    assert median_colour(photo[0:2, 0:1]) == tuple((photo[0, 0].astype(float) + photo[1, 0]) / 2)


def test_max_ious_gives_each_box_its_largest_overlap_with_the_others() -> None:
    """The vectorised overlap test agrees with box_iou pair by pair: identical, disjoint, nested,
    touching and degenerate boxes."""
    boxes = [(0, 0, 10, 10), (20, 20, 30, 25), (2, 2, 4, 4), (50, 50, 50, 60)]
    others = [(0, 0, 10, 10), (5, 0, 15, 10), (10, 0, 20, 10), (40, 40, 45, 45)]
    expected = [max(box_iou(b, o) for o in others) for b in boxes]
    assert max_ious(boxes, others).tolist() == pytest.approx(expected)
    assert expected[:3] == [1.0, 0.0, pytest.approx(0.04)]


def test_a_second_detector_folds_its_words_into_the_ink_words() -> None:
    """With a second detector, its words are read in the same batch as the ink words: one that lies
    inside an ink word gives its reading to that word's alternates, one where ink found nothing is
    added as a word, and one that repeats an ink word's box is not read at all."""
    line = [[10, 10], [150, 10], [150, 30], [10, 30]]  # the ink detector's box over a whole line
    inside = [[90, 11], [149, 11], [149, 29], [90, 29]]  # a word of that line, cut by the kernel net
    same = [[11, 10], [150, 10], [150, 31], [11, 31]]  # the line again: IoU 0.99
    apart = [[20, 60], [90, 60], [90, 85], [20, 85]]  # where ink found nothing
    recognizer = ScriptedRecognizer([Reading("st ASAP hage us", 0.2),
                                     Reading("hayes", 0.8, [("hoyes", 0.1), ("us", 0.05)]),
                                     Reading("budget", 0.9)])
    config = PipelineConfig(reread_below=0.0)
    pipeline = Pipeline(InkFromDarkness(), FixedDetector([line]), recognizer, config,
                        second_detector=FixedDetector([inside, same, apart]))

    reading = pipeline.read(_photo())

    assert [len(b) for b in recognizer.batches] == [3]  # one batch; the repeated box is not read
    host, added = reading.words
    assert host.text == "st ASAP hage us"
    assert host.alternates == [("hayes", 0.8), ("hoyes", 0.1), ("us", 0.05)]
    assert (added.text, added.box) == ("budget", (20, 60, 90, 85))


def test_an_unsure_word_holding_surer_words_of_the_second_detector_is_split_into_them() -> None:
    """With `split_below`, a low-confidence word holding two or more second-detector words that are
    each read with more confidence is replaced by them; the largest keeps its readings as
    alternates. A sure word, or one holding a single word, stays as it is."""
    def word(text: str, conf: float, box: tuple[int, int, int, int]) -> Word:
        x0, y0, x1, y1 = box
        return Word(text=text, confidence=conf, box=box, quad=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]], alternates=[])

    merged = word("st ASAP hage us", 0.2, (0, 0, 300, 40))
    sure = word("budget", 0.9, (0, 100, 200, 140))
    others = [word("ASAP", 0.9, (40, 2, 120, 38)), word("hayes", 0.8, (150, 2, 260, 38)),
              word("budge", 0.95, (10, 102, 150, 138)), word("bu", 0.95, (10, 102, 60, 138))]

    out = fold_words([merged, sure], others, inside=0.5, split_below=0.6)

    assert [w.text for w in out] == ["ASAP", "hayes", "budget"]
    assert out[1].alternates == [("st ASAP hage us", 0.2)]  # "hayes" is the larger of the two
    assert ("budge", 0.95) in out[2].alternates

    kept = fold_words([word("st ASAP hage us", 0.2, (0, 0, 300, 40))], others[:2], inside=0.5, split_below=0.0)
    assert [w.text for w in kept] == ["st ASAP hage us"]


def test_a_word_read_surer_from_the_second_detectors_box_takes_that_reading() -> None:
    """With `swap_iou`, an ink word holding one second-detector word of about its box, read with more
    confidence, takes that reading as its 1-best and keeps its own as an alternate; its box stays."""
    def word(text: str, conf: float, box: tuple[int, int, int, int]) -> Word:
        x0, y0, x1, y1 = box
        return Word(text=text, confidence=conf, box=box, quad=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]], alternates=[])

    unsure = word("bvdget", 0.3, (0, 0, 200, 40))
    other = word("budget", 0.9, (10, 2, 195, 38))
    other.alternates = [("bvdget", 0.2)]

    (out,) = fold_words([unsure], [other], inside=0.5, swap_iou=0.5)
    assert (out.text, out.confidence, out.box) == ("budget", 0.9, (0, 0, 200, 40))
    assert out.alternates == [("bvdget", 0.3)]

    (kept,) = fold_words([word("bvdget", 0.3, (0, 0, 200, 40))], [other], inside=0.5, swap_iou=0.0)
    assert kept.text == "bvdget" and ("budget", 0.9) in kept.alternates


def test_pipeline_reports_words_of_a_reduced_photo_in_photo_pixels() -> None:
    """Given pixels decoded at reduced scale and the photo's size, boxes and quads are in photo pixels."""
    quads = [[[10, 10], [60, 10], [60, 30], [10, 30]]]
    recognizer = ScriptedRecognizer([Reading("budget", 0.9)])

    reading = Pipeline(InkFromDarkness(), FixedDetector(quads), recognizer).read(_photo(200, 100), (800, 400))

    assert (reading.width, reading.height) == (800, 400)
    assert reading.words[0].box == (40, 40, 240, 120)
    assert reading.words[0].quad == [[40.0, 40.0], [240.0, 40.0], [240.0, 120.0], [40.0, 120.0]]
    assert recognizer.batches[0][0].shape[:2] == (25, 55)  # cut from the reduced pixels (with margins)


class DarkBoxDetector:
    """One word: the bounding box of the ink, in pixels of the image it is given."""

    def __init__(self):
        self.seen_shape: tuple[int, ...] | None = None

    def detect(self, rgb: np.ndarray, ink: np.ndarray) -> list[Detection]:
        self.seen_shape = rgb.shape
        ys, xs = np.nonzero(ink > 0.5)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        return [Detection(quad=np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32))]


def test_reader_decodes_large_jpegs_reduced_and_reports_photo_pixels(tmp_path: Path) -> None:
    """A 3200x2400 JPEG is read from 800x600 pixels (decode_min_side 800), and the word's box comes
    back where it is on the photo, as with a full decode."""
    from PIL import Image

    path = tmp_path / "board.jpg"
    board = np.full((2400, 3200, 3), 240, dtype=np.uint8)
    board[1000:1200, 800:2000] = 20  # a dark "word"
    Image.fromarray(board).save(path, quality=95)
    boxes = {}
    for min_side in (None, 800):
        detector = DarkBoxDetector()
        pipeline = Pipeline(InkFromDarkness(), detector, ScriptedRecognizer([Reading("word", 0.9)]),
                            PipelineConfig(decode_min_side=min_side))
        result = PipelineReader(pipeline).read_file(str(path))
        assert (result.reading.width, result.reading.height) == (3200, 2400)
        boxes[min_side] = result.reading.words[0].box
        assert detector.seen_shape == ((2400, 3200, 3) if min_side is None else (600, 800, 3))

    assert boxes[None] == (800, 1000, 2000, 1200)
    assert np.abs(np.subtract(boxes[800], boxes[None])).max() <= 4  # within a pixel of the 1/4 decode


def test_read_files_gives_every_result_in_order(tmp_path: Path, make_photo) -> None:
    """read_files (which decodes the next photo while this one is read) returns what read_file does,
    failures included, in the order of the paths."""
    paths = [str(make_photo(tmp_path / "a.jpg")), str(tmp_path / "missing.jpg"),
             str(make_photo(tmp_path / "b.jpg", seed=1))]
    quads = [[[10, 10], [60, 10], [60, 30], [10, 30]]]
    reader = PipelineReader(Pipeline(InkFromDarkness(), FixedDetector(quads), ScriptedRecognizer([Reading("x", 0.9)])))

    results = list(reader.read_files(paths))

    assert [r.path for r in results] == paths
    assert [r.ok for r in results] == [True, False, True] and "no such file" in results[1].error
    assert [(r.sha256, r.reading) for r in results] == [(r.sha256, r.reading) for r in map(reader.read_file, paths)]
    assert list(reader.read_files([])) == []


def test_warped_crop_of_a_rotated_word_is_upright_with_margin() -> None:
    """A word written at 90 degrees comes out wide, not tall: the quad's first edge is the reading direction."""
    rgb = _photo(100, 200)
    rgb[20:180, 40:60] = 0  # a vertical stroke, read bottom to top
    quad = np.array([[40, 180], [40, 20], [60, 20], [60, 180]], dtype=np.float32)  # tl, tr, br, bl

    crop = warp_word(rgb, quad, margin=0.1, min_side=4)

    assert crop.shape[1] > crop.shape[0] * 5
    assert crop.shape == (24, 164, 3)  # 160 x 20 plus a 2-pixel margin (0.1 x height) on each side
    assert crop[12, 80].max() < 50  # the stroke is inside the crop


def test_pipeline_times_its_stages() -> None:
    """Stage timings add up per photo, so benchmarks can tell model time from the rest."""
    pipeline = Pipeline(InkFromDarkness(), FixedDetector([[[10, 10], [60, 10], [60, 30], [10, 30]]]),
                        ScriptedRecognizer([Reading("x", 1.0)]))
    pipeline.read(_photo())
    pipeline.read(_photo())
    assert pipeline.times.photos == 2 and pipeline.times.crops == 2 and pipeline.times.model_s >= 0


# ----------------------------------------------------------------------------------------------
# Ingest
# ----------------------------------------------------------------------------------------------


def _sidecar_reader(model_threads: int | None = None) -> SidecarReader:
    return SidecarReader()


def _search(layout: DbLayout, query: str) -> list[str]:
    with Store(layout.sqlite_path) as store, Index(layout.sqlite_path) as index:
        return [Path(hit.photo).name for hit in PhotoSearcher(store, index).search(query, limit=50).hits]


@pytest.fixture
def photo_folder(tmp_path: Path, make_photo) -> Path:
    """Three good photos (one in a subfolder) with sidecar words, and four files that cannot be read."""
    folder = tmp_path / "photos"
    make_photo(folder / "board.jpg", ["Quarterly", "budget"], seed=1)
    make_photo(folder / "notes.jpg", ["meeting", "agenda"], seed=2)
    make_photo(folder / "sub" / "plan.jpg", ["roadmap"], seed=3)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not a photo")
    good = (folder / "board.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    from PIL import Image

    Image.new("RGB", (8, 8)).save(folder / "drawing.gif")
    (folder / "README.md").write_text("not a photo, and not an image suffix: skipped silently")
    return folder


def test_broken_files_are_reported_and_the_rest_indexed(photo_folder: Path, layout: DbLayout) -> None:
    """Zero-byte, truncated, text-as-JPEG and unsupported files fail with reasons; good photos are indexed."""
    report = ingest([photo_folder], layout, _sidecar_reader)

    assert sorted(Path(p).name for p in report.indexed) == ["board.jpg", "notes.jpg", "plan.jpg"]
    reasons = {Path(p).name: reason for p, reason in report.failed}
    assert set(reasons) == {"empty.jpg", "text.jpg", "truncated.jpg", "drawing.gif"}
    assert "empty" in reasons["empty.jpg"] and "truncated" in reasons["truncated.jpg"]
    assert not report.ok
    with Store(layout.sqlite_path) as store:
        stats = store.stats()
    assert (stats.photos_indexed, stats.photos_failed) == (3, 4)
    assert _search(layout, "budget") == ["board.jpg"]


def test_ingest_is_idempotent_and_incremental(photo_folder: Path, layout: DbLayout, make_photo) -> None:
    """A second run skips unchanged photos; changed content at the same path is re-read and replaced."""
    ingest([photo_folder], layout, _sidecar_reader)
    again = ingest([photo_folder], layout, _sidecar_reader)
    assert again.indexed == [] and len(again.unchanged) == 3

    make_photo(photo_folder / "board.jpg", ["roadmap", "revised"], seed=99)
    changed = ingest([photo_folder], layout, _sidecar_reader)

    assert [Path(p).name for p in changed.indexed] == ["board.jpg"]
    assert _search(layout, "budget") == []
    assert sorted(_search(layout, "roadmap")) == ["board.jpg", "plan.jpg"]
    with Index(layout.sqlite_path) as index:
        assert index.doc_count() == 3


def test_unchanged_photos_are_told_by_size_and_time_and_hashed_only_when_touched(photo_folder: Path, layout: DbLayout,
                                                                                  monkeypatch) -> None:
    """A new photo's hash comes from the bytes the reader decodes; an indexed photo whose file keeps
    the size and modification time it was read with is unchanged without being read. A touched file
    is hashed: same content, unchanged (and its new time recorded, so it is not hashed again);
    other content, read again."""
    import ocrsearch.ingest as ingest_module

    hashed: list[str] = []
    real_sha256 = ingest_module.file_sha256
    monkeypatch.setattr(ingest_module, "file_sha256", lambda path: hashed.append(path.name) or real_sha256(path))

    first = ingest([photo_folder], layout, _sidecar_reader)
    assert hashed == [] and len(first.indexed) == 3

    again = ingest([photo_folder], layout, _sidecar_reader)
    assert hashed == [] and len(again.unchanged) == 3 and again.indexed == []  # the failed ones are read again

    board, notes = photo_folder / "board.jpg", photo_folder / "notes.jpg"
    stat = board.stat()
    os.utime(board, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched: same bytes, later time
    notes.write_bytes(board.read_bytes())  # other content
    touched = ingest([photo_folder], layout, _sidecar_reader)
    assert sorted(hashed) == ["board.jpg", "notes.jpg"]
    assert sorted(Path(p).name for p in touched.unchanged) == ["board.jpg", "plan.jpg"]
    assert [Path(p).name for p in touched.indexed] == ["notes.jpg"]

    hashed.clear()
    last = ingest([photo_folder], layout, _sidecar_reader)
    assert hashed == [] and len(last.unchanged) == 3


def test_each_photo_is_searchable_as_soon_as_it_is_stored(photo_folder: Path, layout: DbLayout) -> None:
    """A photo's words and its index row are one transaction: a search running beside an ingest
    sees every photo reported so far, never a stored photo missing from the index."""
    seen: list[tuple[int, int]] = []

    def on_photo(result) -> None:
        if result.ok:
            with Store(layout.sqlite_path) as store, Index(layout.sqlite_path) as index:
                seen.append((store.stats().photos_indexed, index.doc_count()))

    ingest([photo_folder], layout, _sidecar_reader, on_photo=on_photo)

    assert seen == [(1, 1), (2, 2), (3, 3)]
    assert sorted(_search(layout, "roadmap") + _search(layout, "budget")) == ["board.jpg", "plan.jpg"]


def test_nothing_to_read_loads_no_models(photo_folder: Path, layout: DbLayout) -> None:
    """When every photo is unchanged the reader factory is never called (models are expensive to load)."""
    ingest([photo_folder / "board.jpg"], layout, _sidecar_reader)

    def must_not_load():
        raise AssertionError("models loaded for nothing")

    report = ingest([photo_folder / "board.jpg"], layout, must_not_load)
    assert len(report.unchanged) == 1


def test_model_load_failure_stops_ingest_and_records_nothing(photo_folder: Path, layout: DbLayout) -> None:
    """If the models cannot load, ingest raises ReaderLoadError and marks no photo as failed."""

    def broken():
        raise FileNotFoundError("weights/recognizer.pt")

    with pytest.raises(ReaderLoadError, match="recognizer.pt"):
        ingest([photo_folder], layout, broken)
    with Store(layout.sqlite_path) as store:
        assert store.states() == {}


def test_failing_new_version_of_a_photo_keeps_the_old_words(photo_folder: Path, layout: DbLayout) -> None:
    """A photo that becomes unreadable is reported, but what was found on it stays searchable."""
    ingest([photo_folder], layout, _sidecar_reader)
    (photo_folder / "board.jpg").write_bytes(b"")

    report = ingest([photo_folder], layout, _sidecar_reader)

    assert "board.jpg" in {Path(p).name for p, _ in report.failed}
    assert _search(layout, "budget") == ["board.jpg"]


def test_prune_forgets_deleted_photos(photo_folder: Path, layout: DbLayout) -> None:
    """--prune removes photos whose files are gone from the store and the index; others stay."""
    ingest([photo_folder], layout, _sidecar_reader)
    (photo_folder / "notes.jpg").unlink()

    report = ingest([photo_folder], layout, _sidecar_reader, prune=True)

    assert [Path(p).name for p in report.pruned] == ["notes.jpg"]
    assert _search(layout, "meeting") == []
    assert _search(layout, "budget") == ["board.jpg"]


def test_workers_give_the_same_result_as_one_process(photo_folder: Path, tmp_path: Path) -> None:
    """--workers 2 indexes the same photos with the same words as --workers 1."""
    one, two = DbLayout(tmp_path / "one"), DbLayout(tmp_path / "two")
    r1 = ingest([photo_folder], one, _sidecar_reader, config=IngestConfig(workers=1))
    r2 = ingest([photo_folder], two, _sidecar_reader, config=IngestConfig(workers=2))

    assert sorted(r1.indexed) == sorted(r2.indexed) and sorted(r1.failed) == sorted(r2.failed)
    for query in ("budget", "meeting", "roadmap"):
        assert _search(one, query) == _search(two, query)


def test_a_new_database_starts_its_reader_processes_before_it_is_created(photo_folder: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """Into a new database every photo found is read, so the worker processes start (and load their
    models) before the database is created, and read them all; into an existing one, ingest first
    finds which photos are new or changed."""
    import ocrsearch.ingest as ingest_module

    layout = DbLayout(tmp_path / "db")
    database_existed: list[bool] = []

    class RecordingPool(ReaderPool):
        def __init__(self, make_reader, workers: int) -> None:
            database_existed.append(layout.sqlite_path.exists())
            super().__init__(make_reader, workers)

    monkeypatch.setattr(ingest_module, "ReaderPool", RecordingPool)
    first = ingest([photo_folder], layout, _sidecar_reader, config=IngestConfig(workers=2))
    assert database_existed == [False]
    assert len(first.indexed) == 3 and len(first.failed) == 4
    assert _search(layout, "roadmap") == ["plan.jpg"]

    again = ingest([photo_folder], layout, _sidecar_reader, config=IngestConfig(workers=2))
    assert database_existed == [False]  # no early start: the failed photos are read again by a pool made later
    assert len(again.unchanged) == 3 and len(again.failed) == 4


def test_forced_ingest_starts_its_reader_processes_before_opening_the_database(photo_folder: Path, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """A forced ingest reads every photo found, so, as into a new database, its workers start first;
    each photo is stored once, with its new words."""
    import ocrsearch.ingest as ingest_module

    layout = DbLayout(tmp_path / "db")
    ingest([photo_folder], layout, _sidecar_reader)
    started: list[bool] = []

    class RecordingPool(ReaderPool):
        def __init__(self, make_reader, workers: int) -> None:
            started.append(True)
            super().__init__(make_reader, workers)

    monkeypatch.setattr(ingest_module, "ReaderPool", RecordingPool)
    (photo_folder / "notes.txt").write_text("forecast\n", encoding="utf-8")
    forced = ingest([photo_folder], layout, _sidecar_reader, config=IngestConfig(workers=2), force=True)
    assert started == [True]
    assert len(forced.indexed) == 3 and forced.unchanged == [] and len(forced.failed) == 4
    assert _search(layout, "forecast") == ["notes.jpg"] and _search(layout, "meeting") == []
    with Index(layout.sqlite_path) as index:
        assert index.doc_count() == 3


def _threads_reader(model_threads: int | None = None) -> SidecarReader:
    """A sidecar reader that records, in its model version, the threads its factory was asked for."""
    return SidecarReader(model_version=f"fake-threads-{model_threads}")


def test_worker_processes_load_their_models_with_one_thread(photo_folder: Path, tmp_path: Path) -> None:
    """Each worker asks its factory for one model thread; the one-process read keeps the default."""
    one, two = DbLayout(tmp_path / "one"), DbLayout(tmp_path / "two")
    ingest([photo_folder], one, _threads_reader, config=IngestConfig(workers=1))
    ingest([photo_folder], two, _threads_reader, config=IngestConfig(workers=2))
    with Store(one.sqlite_path) as store_one, Store(two.sqlite_path) as store_two:
        assert set(store_one.stats().model_versions) == {"fake-threads-None"}
        assert set(store_two.stats().model_versions) == {"fake-threads-1"}


def test_auto_workers_reads_a_few_photos_in_process_and_many_on_every_core() -> None:
    assert auto_workers(3, IngestConfig(auto_min_photos=8, auto_max_workers=4)) == 1
    cores = len(os.sched_getaffinity(0))
    assert auto_workers(8, IngestConfig(auto_min_photos=8, auto_max_workers=4)) == max(1, min(cores, 4))
    assert auto_workers(500, IngestConfig(auto_min_photos=8, auto_max_workers=1)) == 1
    assert auto_workers(3, IngestConfig(workers=2)) == 2  # a count asked for is kept


def test_second_concurrent_ingest_waits_then_stops_cleanly(photo_folder: Path, layout: DbLayout) -> None:
    """While another process holds the write lock, ingest gives up after its timeout and writes nothing."""
    ingest([photo_folder / "board.jpg"], layout, _sidecar_reader)
    before = layout.sqlite_path.read_bytes()

    with FileLock(str(layout.lock_path)):
        started = time.monotonic()
        with pytest.raises(DatabaseBusy, match="another ocrsearch process"):
            ingest([photo_folder], layout, _sidecar_reader, config=IngestConfig(lock_timeout_s=0.3))
        assert 0.25 < time.monotonic() - started < 5

    assert layout.sqlite_path.read_bytes() == before
    assert _search(layout, "budget") == ["board.jpg"]


def test_collect_photos_walks_folders_and_keeps_named_files(photo_folder: Path, tmp_path: Path) -> None:
    """Folders yield image files only (recursively, hidden skipped); named files are always taken."""
    (photo_folder / ".hidden").mkdir()
    (photo_folder / ".hidden" / "x.jpg").write_bytes(b"x")
    named = photo_folder / "README.md"

    files, missing = collect_photos([photo_folder, named, photo_folder / "board.jpg", tmp_path / "nope"])

    names = [Path(f).name for f in files]
    assert "README.md" in names and "board.txt" not in names and "x.jpg" not in names
    assert names.count("board.jpg") == 1
    assert missing == [(str(tmp_path / "nope"), "no such file or folder")]


def test_pipeline_reader_turns_model_exceptions_into_failures(tmp_path: Path, make_photo) -> None:
    """One photo that makes a model raise is a failed photo, not a crashed ingest."""

    class ExplodingDetector:
        def detect(self, rgb, ink):
            raise ValueError("bad quad")

    reader = PipelineReader(Pipeline(InkFromDarkness(), ExplodingDetector(), ScriptedRecognizer([])))
    result = reader.read_file(str(make_photo(tmp_path / "p.jpg")))
    assert result.reading is None and "ValueError: bad quad" in result.error and result.sha256


NATO = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


def test_kill_during_ingest_then_rerun_indexes_every_photo_once(tmp_path: Path, make_photo) -> None:
    """SIGKILL in the middle of an ingest, then a second run: every photo indexed exactly once."""
    folder = tmp_path / "photos"
    for i, word in enumerate(NATO):
        make_photo(folder / f"p{i:02d}.jpg", [word, "common"], seed=i)
    layout = DbLayout(tmp_path / "db")
    env = {**os.environ, FAKE_PIPELINE_ENV_VAR: "1", FAKE_DELAY_ENV_VAR: "0.25"}
    command = [sys.executable, "-m", "ocrsearch.cli", "ingest", str(folder), "--db", str(layout.root)]

    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _stored_count(layout) < 3:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
    finally:
        victim.wait()
    done_before_kill = _stored_count(layout)
    assert 3 <= done_before_kill < 12, "the kill should land mid-run"

    env[FAKE_DELAY_ENV_VAR] = "0"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert rerun.returncode == 0, rerun.stderr
    assert f"indexed {12 - done_before_kill}, unchanged {done_before_kill}, failed 0" in rerun.stdout
    with Store(layout.sqlite_path) as store, Index(layout.sqlite_path) as index:
        assert index.doc_count() == 12 and len(index.hashes()) == 12
        assert store.stats().photos_indexed == 12 and store.stats().words == 24
    assert len(_search(layout, "common")) == 12
    for i, word in enumerate(NATO):
        assert _search(layout, word) == [f"p{i:02d}.jpg"]


def _stored_count(layout: DbLayout) -> int:
    if not layout.sqlite_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{layout.sqlite_path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM photos WHERE status = 'indexed'").fetchone()[0]
    except sqlite3.Error:
        return 0



def _word(text: str, box: tuple[int, int, int, int], confidence: float = 0.9) -> Word:
    x0, y0, x1, y1 = box
    return Word(text=text, confidence=confidence, box=box, quad=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def test_split_off_letters_are_joined_as_alternates() -> None:
    """A first or last letter the detector set apart gives its neighbour the whole word as an
    alternate; letters on another line or too far away do not."""
    words = [
        _word("e", (100, 20, 118, 45), 0.8), _word("mphasised", (124, 10, 300, 48)),  # first letter apart
        _word("practica", (400, 10, 560, 48)), _word("l", (566, 8, 574, 48), 0.5),  # last letter apart
        _word("x", (700, 20, 715, 45)), _word("faraway", (760, 10, 900, 48)),  # gap 45 px > 0.6 x 40
        _word("a", (120, 120, 135, 145)),  # the line below
    ]
    join_fragments(words, max_chars=2, max_gap=0.6)
    alternates = {w.text: w.alternates for w in words}
    assert alternates["mphasised"] == [("emphasised", pytest.approx(0.72))]
    assert alternates["practica"] == [("practical", pytest.approx(0.45))]
    assert alternates["faraway"] == [] and alternates["e"] == [] and alternates["a"] == []
    join_fragments(words, max_chars=2, max_gap=0.6)  # idempotent
    assert len(alternates["mphasised"]) == 1


def test_a_word_cut_in_two_is_joined_when_the_whole_is_a_likelier_word() -> None:
    """Pieces side by side whose joined letters make a word far likelier than the pieces as words
    become one word, three pieces too; two real words ("in" "to"), pieces too far apart, on
    another line, or with punctuation between stay apart."""
    vocabulary = Vocabulary.from_frequencies({"together": 3e-4, "to": 0.027, "in": 0.019, "into": 1.3e-3,
                                              "termination": 5e-6, "ation": 1e-7, "her": 2e-3})
    words = [
        _word("TO", (100, 10, 160, 50), 0.95), _word("GETHER", (172, 8, 360, 50), 0.9),
        _word("in", (500, 10, 540, 50)), _word("to", (552, 10, 590, 50)),
        _word("TER", (100, 110, 190, 150), 0.8), _word("MIN", (200, 110, 290, 150)), _word("ATION", (298, 110, 450, 150)),
        _word("to", (600, 110, 640, 150)), _word("gether", (700, 110, 860, 150)),  # 60 px apart > 0.6 x 40
        _word("TO.", (100, 210, 160, 250)), _word("GETHER", (172, 210, 360, 250)),
        _word("TO", (100, 310, 160, 350)), _word("GETHER", (172, 360, 360, 400)),  # the line below
    ]
    joined = join_split_words(words, vocabulary, min_gain=7.0, max_gap=0.6)
    texts = sorted(w.text for w in joined)
    assert texts == sorted(["TOGETHER", "in", "to", "TERMINATION", "to", "gether", "TO.", "GETHER", "TO", "GETHER"])
    together = next(w for w in joined if w.text == "TOGETHER")
    assert together.box == (100, 8, 360, 50) and together.confidence == pytest.approx(0.9)
    assert together.quad == [[100, 10], [360, 8], [360, 50], [100, 50]]
    assert next(w for w in joined if w.text == "TERMINATION").confidence == pytest.approx(0.8)
    assert join_split_words(words, vocabulary, min_gain=0, max_gap=0.6) == words  # off


def test_single_letters_inside_a_word_or_read_unsure_are_dropped_as_specks() -> None:
    """A one-letter reading inside a larger word, or one read with low confidence, is dropped; a sure
    one-letter word standing alone ("A", "2.") and longer words stay, however unsure."""
    words = [
        _word("ROADMAP", (100, 10, 300, 50)), _word("D.", (180, 12, 210, 48), 0.95),  # a letter of it
        _word("A", (400, 10, 430, 50), 0.93), _word("2.", (20, 100, 40, 130), 0.9),  # sure, alone
        _word("i", (500, 200, 510, 215), 0.3),  # a speck read as a letter
        _word("hm", (600, 200, 640, 230), 0.2),  # two letters: kept, unsure or not
    ]
    kept = drop_specks(words, inside=0.8, below=0.5)
    assert [w.text for w in kept] == ["ROADMAP", "A", "2.", "hm"]
    assert [w.text for w in drop_specks(words, inside=0.0, below=0.0)] == [w.text for w in words]


def test_short_unsure_readings_without_a_longer_alternate_are_dropped() -> None:
    """Two-character readings read unsure (a scribble read as "S2") go, unless an alternate is a
    longer word search could still find; sure ones and longer unsure ones stay."""
    words = [
        _word("S2", (10, 10, 40, 40), 0.3), _word("To", (60, 10, 90, 40), 0.45),
        _word("of", (110, 10, 140, 40), 0.8),  # sure
        _word("Tm", (160, 10, 190, 40), 0.3), _word("cat", (210, 10, 250, 40), 0.2),
    ]
    words[3].alternates.append(("Tom", 0.1))
    kept = drop_specks(words, inside=0.0, below=0.0, short_chars=2, short_below=0.5)
    assert [w.text for w in kept] == ["of", "Tm", "cat"]
    assert [w.text for w in drop_specks(words, inside=0.0, below=0.0)] == [w.text for w in words]


def test_boxes_on_the_desk_around_a_page_are_told_from_boxes_on_the_page() -> None:
    """Wood (saturated, darker than the paper) and a dark cloth are not the surface; white paper
    with dark writing and a bright yellow sticky note are, whatever ink fills the box."""
    photo = np.full((400, 800, 3), 235, np.uint8)  # white paper
    photo[:, :200] = (150, 95, 40)  # wood to the left
    photo[:200, 600:] = (250, 225, 60)  # a yellow sticky note, top right
    photo[200:, 600:] = (35, 30, 30)  # a dark cloth, bottom right
    photo[100:120, 300:500:3] = 20  # a word of bold writing on the paper: ink fills a third of its box
    photo[80:100, 650:750:3] = 20  # and on the sticky note
    ground = GroundTest(photo, min_v=0.35, max_s=150, saturated_min_v=0.9)
    assert ground.is_surface((300, 100, 500, 120))  # the writing
    assert ground.is_surface((650, 80, 750, 100))  # the sticky note
    assert not ground.is_surface((50, 100, 150, 120))  # the wood
    assert not ground.is_surface((650, 300, 750, 320))  # the cloth
    assert GroundTest(photo, min_v=0.0, max_s=255, saturated_min_v=0.9).is_surface((50, 100, 150, 120))


def test_a_merged_word_is_split_when_its_parts_are_read_surer_on_average_and_cover_it() -> None:
    """With `split_by_mean`, an ink word is replaced by the kernel words it holds when their mean
    confidence beats its own, though one of them reads less surely, if they cover `split_cover` of
    its width; parts that leave much of it uncovered do not replace it."""
    merged = _word("pack CTO", (0, 0, 200, 40), 0.56)
    parts = [_word("park", (0, 2, 110, 38), 0.97), _word("CTO", (120, 2, 200, 38), 0.55)]

    split = fold_words([merged], parts, inside=0.5, split_below=1.0, split_by_mean=True, split_cover=0.8)
    assert [w.text for w in split] == ["park", "CTO"]

    (kept,) = fold_words([_word("pack CTO", (0, 0, 200, 40), 0.56)], parts, inside=0.5, split_below=1.0)
    assert kept.text == "pack CTO"
    narrow = [_word("park", (0, 2, 60, 38), 0.97), _word("CTO", (150, 2, 200, 38), 0.55)]  # 55% covered
    (kept,) = fold_words([_word("pack CTO", (0, 0, 200, 40), 0.56)], narrow, inside=0.5, split_below=1.0,
                         split_by_mean=True, split_cover=0.8)
    assert kept.text == "pack CTO"


def test_a_word_inside_a_larger_word_read_as_surely_becomes_its_alternate() -> None:
    """A word lying within a larger word read at least as surely leaves the page for that word's
    alternates (search still finds it); one read surer than its host stays a word of its own."""
    words = [_word("Campaigners paltry", (0, 0, 400, 40), 0.9), _word("paltry", (250, 2, 400, 38), 0.8),
             _word("budget 2024", (0, 100, 300, 140), 0.4), _word("budget", (0, 102, 150, 138), 0.95)]
    out = fold_nested(words, inside=0.8)
    assert [w.text for w in out] == ["Campaigners paltry", "budget 2024", "budget"]
    assert ("paltry", 0.8) in out[0].alternates

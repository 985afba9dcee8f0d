"""Settings of the application layer, with their defaults in one place.

Every tunable of loading, reading, storing, indexing and searching lives in a frozen dataclass
here; the CLI builds them from its options and passes them down, so nothing reads settings from
module globals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

DB_ENV_VAR = "OCRSEARCH_DB"
# Test hook (see ocrsearch/fakes.py): makes the CLI read photos with a deterministic fake instead of
# the trained models. Never set it outside tests.
FAKE_PIPELINE_ENV_VAR = "OCRSEARCH_FAKE_PIPELINE"
FAKE_DELAY_ENV_VAR = "OCRSEARCH_FAKE_DELAY"


@dataclass(frozen=True)
class PhotoLimits:
    """What a photo file may be before we refuse to decode it."""

    max_pixels: int = 100_000_000  # 100 MP: larger than any phone camera, small enough to decode safely
    max_file_bytes: int = 200 * 1024 * 1024


# `ocrsearch recognize`: each word crop's one reading (see PipelineConfig.stretch_below and
# RecognizerConfig.trim_margins)
RECOGNIZE_STRETCH_BELOW = 0.5
RECOGNIZE_TRIM_MARGINS = True


@dataclass(frozen=True)
class PipelineConfig:
    """How photos are turned into words."""

    # "unet": the shipped U-Net (binarizer/weights/), or the classical binarizer where none ships;
    # "classic": the classical binarizer (binarizer/classic.py) whatever ships
    binarizer: str = "unet"
    binarizer_weights: Path | None = None
    binarizer_side: int | None = None  # longest side the U-Net reads the photo at (None: the one saved with its weights)
    # "ink": word boxes grouped from the binarizer's ink map (detector/infer.py);
    # "kernel": the learned word-kernel U-Net (detector/learned.py), which reads the photo itself;
    # "both" (default): the ink detector's words, with the kernel net's words folded in
    # (pipeline.fold_words): a kernel word lying at least `fold_inside` of its area in an ink word
    # gives its reading to that word's alternates, one elsewhere is added as a word; kernel words
    # repeating an ink word's box (IoU >= `fold_same_iou`) are not read twice. On our val2/val3
    # pages (bench/search_misses.py) search missed 435 of 3057 queries with ink alone, 318 with both
    detector: str = "both"
    detector_weights: Path | None = None
    kernel_weights: Path | None = None  # the kernel U-Net of detector "both" (None: the shipped one)
    # The side the kernel net of "both" reads the photo at (None: the 1280 px it was trained at).
    # Chosen on our val2/val3 pages and stanford1905 *tune* pages, which disagree by as much either
    # way: val missed 318 queries of 3057 at 960 against 330 at 1280 (768: 344, 640: 358 with
    # `fold_same_iou` 0.7), tune native R@10 (score.py) 0.731 at 960 against 0.742 at 1280; 960 costs
    # ~0.1 s less per photo. Kernel words repeating an ink box are read unless IoU >= 0.85 (val at
    # 960: 0.5 missed 341, 0.7: 334, 0.85: 318, every one: 316). Re-checked with the quarter-resolution
    # kernel net and the stage-4 binarizer (2026-12-07): val2+val3+tune pooled, 937 of 4555 missed at 960,
    # 940 at 1280 (detector/weights/README.md)
    fold_kernel_side: int | None = 960
    fold_inside: float = 0.5
    fold_same_iou: float = 0.85
    # a kernel word found where ink found none is added only with at least this many letters or
    # digits: on our val pages 16% of the one-character ones matched a written word, 71% of the rest
    fold_min_chars: int = 2
    # An ink word read with less confidence than this that holds 2+ kernel words, each read with more,
    # is taken for merged words and replaced by them (0: never). score.py on our val2 / val3 pages,
    # word F1 @IoU .5: never 0.862 / 0.871, below 0.3: 0.878 / 0.884, 0.5: 0.880 / 0.887, 0.7: 0.881 /
    # 0.893, always (1.0): 0.884 / 0.896; native search R@10 0.907 / 0.912-0.913 throughout, and
    # stanford1905 tune 0.731 with or without it (bag-of-words 0.695 -> 0.697)
    fold_split_below: float = 1.0
    # ... or when the kernel words' mean confidence beats the ink word's and they cover at least
    # `fold_split_cover` of its width ("pack CTO" 0.56 holding "park" 0.97 and "CTO" 0.55). score.py,
    # val2 / val3 word F1 0.892 / 0.901 (each surer) -> 0.906 / 0.912 (mean) -> 0.905 / 0.912 (mean,
    # cover 0.8); bag-of-words 0.833 / 0.805 -> 0.841 / 0.808 -> 0.840 / 0.808; native 0.908 / 0.913 ->
    # 0.909 / 0.914; stanford1905 tune native 0.728 -> 0.728 -> 0.729, bag-of-words 0.699 -> 0.696
    fold_split_by_mean: bool = True
    fold_split_cover: float = 0.8
    # an ink word holding one kernel word that overlaps it by at least this IoU and was read with
    # more confidence takes that reading as its 1-best (its own becomes an alternate); 0: never.
    # Our val2 / val3 pages: bag-of-words recall 0.821 / 0.792 (never) -> 0.834 / 0.805 (0.5) ->
    # 0.836 / 0.807 (0.3), e2e recall 0.782 / 0.746 -> 0.797 / 0.760, native search unchanged
    # (0.908 / 0.913); stanford1905 tune bag-of-words 0.697 -> 0.702, native 0.731 -> 0.728.
    # 0.5 rather than 0.3: as good within 0.002, and a guest over a third of a line is not its word
    fold_swap_iou: float = 0.5
    recognizer_weights: Path | None = None
    # "auto": the ONNX export beside the weights (no torch import, faster) when it was made from
    # them, else torch; "onnx" or "torch" to insist (recognizer/infer.py)
    recognizer_backend: str = "auto"
    # Threads of the binarizer's and recognizer's ONNX Runtime sessions; 0: one per core. Ingest with N worker
    # processes sets 1, as N x cores threads would fight over the cores.
    model_threads: int = 0
    decoder: str = "beam"  # or "greedy": beam + word LM reads better and gives alternates for the index
    # Beam decoding adds the vocabulary words a few edits from a reading whose CTC score (+ word prior)
    # is within `lexicon_margin` of the reading's own as alternates (recognizer/lexicon.py), for words
    # read with less confidence than `lexicon_below`; 0 turns it off. bench/search_misses.py, missed
    # queries / false-hit rate on absent words, stanford1905 tune (1882) and our val2+val3 pages (3057):
    # off 531 / 7.0%, 308 / 6.3%; below 0.5 margin 3: 523 / 8.3%, 299 / 7.4%; below 1.0 (every word):
    # margin 2 521 / 8.0%, 302 / 7.1%; margin 3 520 / 9.0%, 296 / 7.4%, for 35% more ingest time
    # on tune (0.5: 13%)
    lexicon_below: float = 0.5
    lexicon_margin: float = 3.0
    # The recognizer reads a word crop it is unsure of (confidence below this) again at other widths
    # (RecognizerConfig.stretches), and keeps the most confident reading; 0: off. Off for photos:
    # their unsure words get alternates from re-cut and slanted crops instead (reread_below,
    # shear_below below). bench/search_misses.py on stanford1905 tune + val2 + val3, 0.5 with
    # session 23's re-reads (1.25x and 1.5x wider; session 24's, trimmed: 701 missed): 711 missed
    # of 4,491 against 679, tune's handwritten lines 464 found of 847 against 494, false hits 8.7%
    # against 9.75%; stretched crops as alternates did worse too (736 missed, session 20). On for
    # `ocrsearch recognize` (RECOGNIZE_STRETCH_BELOW), where each crop has one reading.
    stretch_below: float = 0.0
    # Cut the empty rows above and below each word crop's writing before reading it
    # (RecognizerConfig.trim_margins). Off for photos: the detector's crops are tight already, and
    # bench/search_misses.py on stanford1905 tune + val2 + val3 missed 686 of 4,491 with it (701
    # with stretch_below 0.5 too) against 679, for 8.8% false hits against 9.75%. On for
    # `ocrsearch recognize` (RECOGNIZE_TRIM_MARGINS).
    trim_margins: bool = False
    crop_margin: float = 0.12  # margin added around each word quad, as a share of the word height
    min_crop_side: int = 4  # quads thinner than this (pixels) are detector noise, not words
    # JPEGs are decoded at 1/2, 1/4 or 1/8 scale while their longest side stays at least this (None:
    # full size): a 12 MP photo decodes six times faster. The binarizer and the detector work at
    # 1600 px at most (the U-Net at 1024); word crops get half the pixels of a 12 MP photo, which leaves word recall
    # unchanged on 12 MP synthetic pages but costs 1.5-2 points where the text is half as tall
    # (bench/reduced_decode.py)
    decode_min_side: int | None = 1600
    # A word the detector cut in two ("e" + "mphasised", a first letter set apart) is also indexed
    # whole: a reading of at most this many characters next to another word on its line, at most
    # `join_max_gap` word heights away, gives the joined text as an alternate of its neighbour.
    join_max_fragment_chars: int = 2
    join_max_gap: float = 0.6
    # Two readings side by side on a line, at most `split_max_gap` word heights apart, become one
    # word when the joined text is an English word far likelier than the two pieces as words apart
    # (ln f(joined) - ln f(left) - ln f(right) >= `split_min_gain`, word frequencies of the LM's
    # vocabulary): large letters on flipcharts are cut at wide letter gaps ("TO" + "GETHER",
    # "EIT" + "HER"), while "in" + "to" (gain ln 2.6) stay two words. 0 turns it off.
    # bench/page_variants.py, off -> on: our val2+val3 pages bag-of-words 0.7319 -> 0.7331, word F1
    # 0.8817 -> 0.8834; stanford1905 tune bag-of-words 0.6851 -> 0.6855; bench/search_misses.py on
    # all three, 937 of 4,555 missed either way, false hits 7.9% either way. Gain 5 was no better.
    split_min_gain: float = 7.0
    split_max_gap: float = 0.6
    # A word read with less confidence than this is read again from a crop with `reread_margin`
    # (0: tight to the quad), and that reading joins its alternates: on our val pages it cut the
    # queries search missed from 443 to 393 of 2921 at the same false-hit rate on absent words
    # (6.6%), for 15% more database and ~15% more ingest time (bench/search_misses.py). 0 turns it off.
    # 0.6 -> 0.8 (2026-12-07; stanford1905 tune + val2 + val3, 4,555 queries): 937 -> 928 missed, false
    # hits 7.9% -> 7.8%, database 2.66 -> 2.72 MB; 1.0 (every word): 927, 7.9%, 2.82 MB
    reread_below: float = 0.8
    reread_margin: float = 0.0
    # A word read with less confidence than `shear_below` is also read from its crop slanted by each
    # of `reread_shears` (x word height, + leans it right; pipeline.shear_crop), and those readings join
    # its alternates too: cursive hands lean, and a slant the recognizer reads better is another
    # chance for search. () turns it off. bench/search_misses.py on stanford1905 tune + our val2 + val3
    # pages (4,491 queries; false hits on 1,200 absent 5+ letter words), 2026-12-07:
    # off 746 missed / 8.6%, handwritten lines of tune 471 of 847 found, 87.8 s;
    # +-0.15 below 0.8: 712 / 9.6%, 493, 127 s; below 0.65: 715 / 9.5%; below 0.5: 716 / 9.3%, 493,
    # 115 s; below 0.35: 729 / 9.1%, 482; +0.15 alone 730, -0.15 alone 727; +-0.1 722; +-0.25 721;
    # +-0.12 and +-0.25 (four) 704 / 10.8%. Stretching the crop 1.3x or 0.8x instead: 736 / 734.
    # Absent 4-letter words (`--absent-letters 4`) hit some photo 16.2% of the time off, 18.4% on.
    # score.py: stanford1905 dev native R@10 0.748 -> 0.763, synth-dev unchanged (0.962); the
    # stanford dev pages take ~30% longer to read (most of their words are unsure). Re-reads decoded
    # greedily (+ dictionary alternates) instead of with beam + LM: 770 missed, 78 s: worse than none.
    reread_shears: tuple[float, ...] = (0.15, -0.15)
    shear_below: float = 0.5
    # The second detector's words are re-read the same way (tight crop; not slanted), as its
    # words are no surer than the first's. bench/search_misses.py as above, with the slanted
    # re-reads: off 716 missed / 9.3%, 126 s, database 3.1 MB; on 679 / 9.8%, 139 s, 3.6 MB
    # (our rendered pages 2345 -> 2379 of 2609, tune's handwriting 493 -> 494); slanting them too:
    # 665 / 10.9%, 189 s, 4.3 MB.
    reread_others: bool = True
    # A reading of at most one letter or digit is dropped when it lies at least `speck_inside` of its
    # area within a larger word (a letter of that word read again; 0: never) or was read with
    # confidence under `speck_below` (a speck or a stroke of a doodle; 0: never). score.py on our
    # val2 / val3 pages, word F1 @IoU .5: neither 0.884 / 0.896, inside 0.8 alone 0.890 / 0.900,
    # with below 0.3 0.892 / 0.901, with below 0.5 0.897 / 0.905; bag-of-words recall 0.834 / 0.805
    # -> 0.833 / 0.805 (0.3), 0.830 / 0.805 (0.5); native search unchanged. On stanford1905 tune's
    # handwriting, bag-of-words 0.702 (neither) -> 0.699 (inside alone, or below 0.3) -> 0.694 (0.5):
    # one-letter words such as "a" and "I" are often read unsure there, so 0.3
    speck_inside: float = 0.8
    speck_below: float = 0.3
    # A reading of at most `short_max_chars` letters or digits read with confidence under `short_below`,
    # with no longer alternate, is dropped too (0: never): scribbles, arrow heads and fragments of a
    # stroke read as "To" or "S2". Chosen on our val2 + val3 pages: word F1 0.914 -> 0.918 with
    # bag-of-words unchanged (0.808); 0.5 gave F1 0.922 but cost bag-of-words there (0.807) and on
    # synth-dev (0.897).
    # 0.4 -> 0.25 (2026-12-07, with reread_below 0.8): search on stanford1905 tune + val2 + val3 misses
    # 913 queries of 4,555 instead of 928 (the same as with no short-word filter at all), false hits
    # on absent words 7.8% either way; bench/page_variants.py on the same sets: bag-of-words recall
    # 0.7091 -> 0.7117, precision 0.6364 -> 0.6268, word F1 (val2+val3) 0.8831 either way.
    short_max_chars: int = 2
    short_below: float = 0.25
    # A word lying at least this share of its area within a larger word read at least as surely is
    # folded into that word's alternates (0: never). score.py, val2 / val3 word F1 0.905 / 0.912 ->
    # 0.910 / 0.918, bag-of-words 0.840 / 0.808 -> 0.840 / 0.807, native R@10 0.909 / 0.914 ->
    # 0.909 / 0.913 (one query of 1085); stanford1905 tune native 0.729 unchanged, bag-of-words -2 of
    # 2598 tokens (0.696)
    nested_inside: float = 0.8
    # Words found on the desk or cloth around a page are dropped before they are read (pipeline.GroundTest):
    # a box whose ground is darker than `ground_min_v` of the paper, or more saturated than
    # `ground_max_s` while darker than `ground_saturated_min_v` of it. 0 / 255 turn the tests off.
    # On the 20 notebook-photos (unlabelled; bench/contact_sheet_vision.py) words went 21 -> 10
    # (page01), 34 -> 12 (page10), 51 -> 44 (test5), 373 -> 359 (test4), nearly all on the desk; no
    # ground-truth word box of our val2 / val3 pages, synth-dev or stanford1905 tune lines fails it, and
    # score.py predicted the same words with it on val2 / val3 and one fewer of 2997 on tune
    ground_min_v: float = 0.35
    ground_max_s: int = 150
    ground_saturated_min_v: float = 0.9
    limits: PhotoLimits = field(default_factory=PhotoLimits)


# Misreadings an OCR makes more often than any other edit (after case folding, so I/l/1 are i/l/1).
# Each pair applies both ways: "rneeting" is found by "meeting", and "modem" by "modern".
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("cl", "d"), ("li", "h"), ("0", "o"), ("1", "l"), ("1", "i"), ("l", "i"), ("5", "s"), ("vv", "w"))


@dataclass(frozen=True)
class SearchConfig:
    """Query parsing and ranking.

    Each query clause scores in its own band: an exact match of the 1-best text scores in
    [exact_points, exact_points * (1 + tie_break)), a match through an OCR confusion (OCR_CONFUSIONS)
    in the confusion band, any other near spelling in the fuzzy band, a match of an alternate
    reading in the alternate band, a near spelling of an alternate reading below it. The bands do
    not overlap, so exact > confusion > fuzzy > alternate > near alternate holds for every
    single-clause query whatever BM25 says; BM25 only orders photos inside a band. Phrases score the same way: the exact phrase, the phrase through confusions, the
    phrase with one misread word.
    """

    exact_points: float = 3.0
    confusion_points: float = 2.5
    fuzzy_points: float = 2.0
    alternate_points: float = 1.0
    # a near spelling of an alternate reading: the lowest band (0.8 * (1 + tie_break) < alternate_points)
    alternate_fuzzy_points: float = 0.8
    # < exact/confusion - 1 and < confusion/fuzzy - 1 (both 0.2), so that bands never overlap
    tie_break: float = 0.19
    fuzzy: bool = True  # near spellings at the edit distances below
    fuzzy_min_letters_1: int = 5  # words of 5+ letters match at edit distance 1
    fuzzy_min_letters_2: int = 8  # words of 8+ letters match at edit distance 2
    fuzzy_prefix: int = 1  # fuzzy variants must share the first letter: OCR rarely misses it, and it is fast
    # Near spellings of alternate readings too (a cursive word whose readings are all a letter off),
    # at edit distance 1 from this many letters and 2 from the next. Off: only exact alternates match.
    # bench/search_misses.py, off -> 6/9 (-> 5/8): stanford1905 tune 554 -> 531 (520) missed of 1882,
    # absent words hitting some photo 4.8% -> 7.0% (14.3%); our val2+val3 pages 336 -> 308 (300)
    # of 3057, 5.5% -> 6.3% (8.6%). Such hits score in the lowest band.
    fuzzy_alternates: bool = True
    alternate_fuzzy_min_letters_1: int = 6
    alternate_fuzzy_min_letters_2: int = 9
    max_fuzzy_variants: int = 64
    confusions: tuple[tuple[str, str], ...] = OCR_CONFUSIONS  # () turns confusion matching off
    confusion_min_chars: int = 4  # shorter words are too often each other's confusions ("he"/"lie")
    confusion_2_edits_chars: int = 7  # from this length, two confusions in one word ("rneet1ng")
    max_confusion_candidates: int = 256  # spellings generated per word before looking them up
    max_confusion_variants: int = 32  # of those found in the index, the ones with fewest confusions
    tolerant_phrases: bool = True  # phrases also match through confusions, or with one word misread
    max_phrase_variants: int = 64  # spellings of a phrase searched per band (one per combination of its words' variants)
    prefix_min_chars: int = 2  # "b*" would match a large share of the vocabulary
    max_query_chars: int = 1000
    max_clauses: int = 32
    default_limit: int = 10


@dataclass(frozen=True)
class IngestConfig:
    lock_timeout_s: float = 10.0
    # Processes reading photos; 0: one per core (at most `auto_max_workers`) when at least
    # `auto_min_photos` photos are to be read, else one. Each worker runs its models on one thread,
    # which uses two cores better than one process running them on two (pipeline.auto_workers):
    # 30 photos of 12 MP, bench/ingest_e2e.py on 2026-12-07: 1.35 photos/s in one process, 1.69 with 2
    workers: int = 0
    auto_min_photos: int = 8
    auto_max_workers: int = 4


@dataclass(frozen=True)
class DbLayout:
    """Where one database folder keeps its parts."""

    root: Path

    @property
    def sqlite_path(self) -> Path:
        return self.root / "ocrsearch.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.root / "ingest.lock"

    def exists(self) -> bool:
        return self.sqlite_path.is_file()


def default_db_dir() -> Path:
    """$OCRSEARCH_DB, else the per-user data folder."""
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("ocrsearch", appauthor=False) / "db"


def db_layout(db_dir: Path | None) -> DbLayout:
    return DbLayout((db_dir if db_dir is not None else default_db_dir()).expanduser().absolute())

"""Synthetic data engine: determinism, page ground truth, holdout-font exclusion, readers, text and
word sets. Uses the small OFL fonts in tests/fonts so that it runs anywhere, fast."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from data import fonts as fonts_module
from data.fonts import FontSpec, font_charset, gather_fonts, is_holdout, load_fonts
from data.pages import PageConfig, PageRenderer, write_page_set
from data.readers import IamWordsDataset, LabelsTsvDataset, MJSynthDataset, PagesJsonlDataset, open_dataset
from data.render import WordRenderer
from data.text import TextSampler
from data.words import write_word_set

FONT_DIR = Path(__file__).parent / "fonts"
SMALL = (640, 480)


@pytest.fixture(scope="module")
def fonts() -> list[FontSpec]:
    specs = load_fonts(FONT_DIR)
    assert len(specs) == 3
    return specs


def small_cfg(**kw) -> PageConfig:
    return PageConfig(size=SMALL, **kw)


# ------------------------------------------------------------------ determinism
def test_word_renderer_is_deterministic(fonts):
    a, b = WordRenderer(fonts, seed=7), WordRenderer(fonts, seed=7)
    for _ in range(5):
        (img_a, text_a), (img_b, text_b) = a.render(), b.render()
        assert text_a == text_b
        assert np.array_equal(img_a, img_b)
    assert not np.array_equal(WordRenderer(fonts, seed=8).render()[0], WordRenderer(fonts, seed=7).render()[0])


def test_page_renderer_is_deterministic(fonts):
    a, b = PageRenderer(fonts, seed=3, cfg=small_cfg()), PageRenderer(fonts, seed=3, cfg=small_cfg())
    for _ in range(2):
        (rgb_a, mask_a, rec_a), (rgb_b, mask_b, rec_b) = a.render(), b.render()
        assert np.array_equal(rgb_a, rgb_b)
        assert np.array_equal(mask_a, mask_b)
        assert rec_a == rec_b


# ------------------------------------------------------------------ page ground truth
@pytest.mark.parametrize("kind", ["whiteboard", "flipchart", "sticky", "notebook"])
def test_page_boxes_hold_their_own_ink_only(fonts, kind):
    renderer = PageRenderer(fonts, seed=11, cfg=small_cfg(kind_weights={kind: 1.0}))
    n_words = 0
    for _ in range(2):
        page = renderer.render_detailed()
        h, w = page.mask.shape
        assert page.rgb.shape == (h, w, 3) and page.rgb.dtype == np.uint8 and (w, h) == SMALL
        assert page.mask.dtype == np.uint8 and set(np.unique(page.mask)) <= {0, 255}
        assert len(page.words) == len(page.record["words"])
        for word, rec in zip(page.words, page.record["words"]):
            x0, y0, x1, y1 = rec["box"]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert word.ink.shape == (y1 - y0, x1 - x0)
            # The box is tight around the word's own ink: every edge row/column holds ink.
            assert word.ink[0].any() and word.ink[-1].any() and word.ink[:, 0].any() and word.ink[:, -1].any()
            # The word's ink is in the mask.
            assert (page.mask[y0:y1, x0:x1][word.ink] == 255).all()
            assert np.array(rec["poly"]).shape == (4, 2)
            n_words += 1
        for i, a in enumerate(page.words):
            ax0, ay0, ax1, ay1 = a.box
            for j, b in enumerate(page.words):
                if i == j:
                    continue
                bx0, by0, bx1, by1 = b.box
                ix0, iy0, ix1, iy1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
                if ix0 < ix1 and iy0 < iy1:
                    assert not b.ink[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0].any(), \
                        f"box of {a.text!r} holds ink of {b.text!r}"
        words_by_line: dict[int, list[str]] = {}
        for rec in page.record["words"]:
            words_by_line.setdefault(rec["line"], []).append(rec["text"])
        for k, line in enumerate(page.record["lines"]):
            assert line["type"] == "DefaultLine:Handwritten"
            assert line["text"] == " ".join(words_by_line[k])
    assert n_words > 0


def test_word_poly_is_the_warped_ink_box(fonts):
    page = PageRenderer(fonts, seed=5, cfg=small_cfg(kind_weights={"whiteboard": 1.0})).render_detailed()
    assert page.words
    for word in page.words:
        x0, y0, x1, y1 = word.box
        poly = word.poly
        # The warped tight page box encloses the word's warped ink, up to interpolation.
        assert poly[:, 0].min() <= x0 + 2 and poly[:, 0].max() >= x1 - 2
        assert poly[:, 1].min() <= y0 + 2 and poly[:, 1].max() >= y1 - 2


def test_ghost_text_is_not_ink(fonts, monkeypatch):
    monkeypatch.setattr(PageRenderer, "_doodles", lambda *a, **k: None)
    # No columns either: their dividing lines are drawings, in the mask even on a page without words.
    cfg = small_cfg(kind_weights={"whiteboard": 1.0}, p_ghost=1.0, max_words=0, p_columns=0.0)
    rgb, mask, record = PageRenderer(fonts, seed=2, cfg=cfg).render()
    assert record["words"] == [] and record["lines"] == []
    assert not mask.any()


def test_write_page_set(fonts, tmp_path):
    path = write_page_set(tmp_path / "set", 2, fonts, seed=1, size=SMALL)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["image"] == "pages/p0000.jpg"
    for row in rows:
        img = cv2.imread(str(path.parent / row["image"]))
        mask = cv2.imread(str(path.parent / "masks" / Path(row["image"]).with_suffix(".png").name), cv2.IMREAD_GRAYSCALE)
        assert img.shape[:2] == mask.shape == (SMALL[1], SMALL[0])
        for word in row["words"]:
            assert set(word) >= {"text", "box", "poly"}
        for line in row["lines"]:
            assert set(line) >= {"text", "box", "poly", "type"}
    crops = PagesJsonlDataset(path)
    assert len(crops) == sum(len(r["words"]) for r in rows)
    if len(crops):
        crop, text = crops[0]
        assert crop.ndim == 3 and text


# ------------------------------------------------------------------ holdout fonts
HOLDOUT_NAMES = ["Kaushan Script", "KaushanScript-Regular.ttf", "Kristi", "kristi-latin-400-normal.woff2",
                 "BecauseWeOrganize-Regular.otf", "SteveHand.ttf", "DKG Handwriting", "Yusei Magic", "Rufscript",
                 "kaushan-script", "yusei-magic", "BecauseWeConnect-Regular.otf"]


@pytest.mark.parametrize("name", HOLDOUT_NAMES)
def test_holdout_names(name):
    assert is_holdout(name)


@pytest.mark.parametrize("name", ["Caveat", "patrick-hand-latin-400-normal.ttf", "BecauseWeBuild-Regular.otf",
                                  "Indie Flower", "Kalam"])
def test_training_names_are_not_holdout(name):
    assert not is_holdout(name)


def test_gather_fonts_never_returns_holdout(tmp_path, monkeypatch):
    src = FONT_DIR / "caveat-latin-400-normal.ttf"
    allowed = tmp_path / "Allowed-Regular.ttf"
    shutil.copy(src, allowed)
    planted = []
    for name, family in [("KaushanScript-Regular.ttf", "kaushan-script"), ("SteveHand.ttf", "stevehand"),
                         ("BecauseWeOrganize-Regular.otf", "bwht-organize"), ("kristi.ttf", "handwriting")]:
        shutil.copy(src, tmp_path / name)
        planted.append((str(tmp_path / name), family, ""))
    monkeypatch.setattr(fonts_module, "DEBIAN_TRAIN_FONTS", tuple(planted) + ((str(allowed), "allowed", ""),))
    specs = gather_fonts(tmp_path / "cache", npm=False, debian=True)
    assert [Path(s.path).name for s in specs] == ["Allowed-Regular.ttf"]
    assert not any(is_holdout(s.family, Path(s.path).name) for s in load_fonts(tmp_path / "cache"))


def test_missing_debian_packages_names_the_package_to_install(tmp_path, monkeypatch):
    present = tmp_path / "truetype" / "breip" / "Breip.ttf"
    present.parent.mkdir(parents=True)
    shutil.copy(FONT_DIR / "caveat-latin-400-normal.ttf", present)
    monkeypatch.setattr(fonts_module, "DEBIAN_TRAIN_FONTS", (
        (str(present), "breip", ""),
        (str(tmp_path / "opentype" / "comic-neue" / "ComicNeue-Bold.otf"), "comic-neue", ""),
        (str(tmp_path / "opentype" / "comic-neue" / "ComicNeue-Light.otf"), "comic-neue", ""),
        (str(tmp_path / "truetype" / "klee" / "KleeOne-Regular.ttf"), "klee", ""),
    ))
    assert fonts_module.missing_debian_packages() == ["fonts-comic-neue", "fonts-klee"]


def test_load_fonts_drops_holdout_files(tmp_path):
    for name in ["caveat-latin-400-normal.ttf", "kristi-latin-400-normal.ttf", "SteveHand.ttf", "Rufscript.ttf"]:
        shutil.copy(FONT_DIR / "caveat-latin-400-normal.ttf", tmp_path / name)
    specs = load_fonts(tmp_path)
    assert [Path(s.path).name for s in specs] == ["caveat-latin-400-normal.ttf"]


def test_load_fonts_manifest_drops_holdout_rows(tmp_path):
    good = str(FONT_DIR / "caveat-latin-400-normal.ttf")
    (tmp_path / "fonts.tsv").write_text(f"{good}\tcaveat\t\t\n{good}\tyusei-magic\t\t\n/x/KaushanScript-Regular.ttf\tx\t\t\n")
    assert [s.family for s in load_fonts(tmp_path)] == ["caveat"]


# ------------------------------------------------------------------ readers
def _png(path: Path, seed: int = 0, size=(20, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    cv2.imwrite(str(path), pixels)


def test_labels_tsv_reader(tmp_path):
    _png(tmp_path / "w" / "a.png")
    _png(tmp_path / "w" / "b.png", 1)
    (tmp_path / "labels.tsv").write_text("w/a.png\tHello\nw/b.png\tnew york\n", encoding="utf-8")
    for ds in (LabelsTsvDataset(tmp_path / "labels.tsv"), open_dataset(tmp_path)):
        assert len(ds) == 2
        img, text = ds[1]
        assert img.shape == (20, 48, 3) and text == "new york"


def test_pages_jsonl_reader(tmp_path):
    _png(tmp_path / "pages" / "x.png", size=(100, 200))
    row = {"image": "pages/x.png",
           "words": [{"text": "box", "box": [10, 10, 60, 30]},
                     {"text": "quad", "box": [0, 0, 1, 1], "poly": [[70, 40], [150, 40], [150, 70], [70, 70]]}],
           "lines": [{"text": "box quad", "box": [10, 10, 150, 70], "type": "DefaultLine:Handwritten"}]}
    (tmp_path / "pages.jsonl").write_text(json.dumps(row) + "\n")
    words = open_dataset(tmp_path)
    assert len(words) == 2
    crop, text = words[1]
    # The quad is cut with a margin of 8 % of its height on every side.
    assert text == "quad" and abs(crop.shape[1] - (80 + 4.8)) < 2 and abs(crop.shape[0] - (30 + 4.8)) < 2
    lines = PagesJsonlDataset(tmp_path / "pages.jsonl", level="lines", line_types=("Handwritten",))
    assert len(lines) == 1 and lines[0][1] == "box quad"


def test_iam_words_reader(tmp_path):
    _png(tmp_path / "words" / "a01" / "a01-000u" / "a01-000u-00-00.png")
    _png(tmp_path / "words" / "a01" / "a01-000u" / "a01-000u-00-01.png")
    (tmp_path / "words.txt").write_text(
        "# comment\na01-000u-00-00 ok 154 408 768 27 51 AT A\na01-000u-00-01 err 154 507 766 213 48 NN MOVE\n")
    for ds in (IamWordsDataset(tmp_path / "words.txt"), open_dataset(tmp_path)):
        assert len(ds) == 1
        img, text = ds[0]
        assert text == "A" and img.shape == (20, 48, 3)


def test_mjsynth_reader(tmp_path):
    _png(tmp_path / "1" / "2" / "3_Hello_4.jpg")
    (tmp_path / "annotation.txt").write_text("./1/2/3_Hello_4.jpg 4\n")
    for ds in (MJSynthDataset(tmp_path / "annotation.txt"), open_dataset(tmp_path / "annotation.txt")):
        assert len(ds) == 1
        img, text = ds[0]
        assert text == "Hello" and img.ndim == 3


# ------------------------------------------------------------------ text and word sets
def test_text_sampler_respects_charset():
    sampler = TextSampler(seed=0)
    charset = "abcdefghijklmnopqrstuvwxyz "
    for _ in range(200):
        t = sampler.text(charset)
        assert t and all(c in charset for c in t)


def test_text_sampler_respects_capitals_only_charset():
    """Text drawn for a capitals-only font uses only characters that font has."""
    sampler = TextSampler(seed=0)
    caps = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    assert all(c in caps for _ in range(300) for c in sampler.text(caps))


def test_text_sampler_seeded():
    assert [TextSampler(seed=4).text() for _ in range(1)] == [TextSampler(seed=4).text()]


def test_test_fonts_cover_ascii(fonts):
    for spec in fonts:
        assert sum(c.isalpha() for c in font_charset(spec.path)) >= 52


def test_write_word_set(fonts, tmp_path):
    labels = write_word_set(tmp_path, 6, fonts, seed=0)
    lines = labels.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and len(list((tmp_path / "words").glob("*.png"))) == 6
    ds = LabelsTsvDataset(labels)
    img, text = ds[0]
    assert img.ndim == 3 and text == lines[0].split("\t", 1)[1]


def test_wild_labels_match_whole_words_only():
    from data.wild import label_detection

    words = [{"text": "quarterly", "box": [10, 10, 110, 40], "line": 0},
             {"text": "budget", "box": [120, 12, 190, 40], "line": 0},
             {"text": "Q3", "box": [10, 60, 40, 90], "line": 1}]
    # A loose box around one word reads as that word.
    assert label_detection(np.array([5, 5, 115, 45.0]), words) == "quarterly"
    # Two words merged by the detector read as both, in reading order.
    assert label_detection(np.array([8, 8, 192, 42.0]), words) == "quarterly budget"
    # Half a word matches nothing: training on it would teach the model to invent letters.
    assert label_detection(np.array([10, 10, 60, 40.0]), words) is None
    # A box over empty board matches nothing.
    assert label_detection(np.array([300, 300, 400, 340.0]), words) is None


def test_line_only_ground_truth_labels_detections_by_count():
    """Lines labelled as a whole (stanford1905) give words to detections only when the counts match."""
    from data.wild import label_line_detections

    lines = [{"text": "Dear Sir", "box": [0, 0, 200, 40]},
             {"text": "I accept the invitation", "box": [0, 50, 400, 90]},
             {"text": "ORG\u15c5NIZED", "box": [0, 100, 200, 140]}]
    boxes = np.array([[110, 5, 190, 38],  # "Sir" (listed before "Dear": order comes from x)
                      [5, 5, 100, 38],  # "Dear"
                      [5, 55, 60, 88], [70, 55, 300, 88],  # two detections for four words: skipped
                      [5, 105, 190, 138],  # non-ASCII line: skipped
                      [500, 500, 560, 530]], dtype=np.float64)  # outside every line
    assert label_line_detections(boxes, lines) == {0: "Sir", 1: "Dear"}
    assert label_line_detections(np.zeros((0, 4)), lines) == {}


def test_word_marks_are_drawn_against_words(fonts, monkeypatch):
    """p_word_mark: circles, boxes, underlines and strike-throughs drawn on the words themselves
    (the detector must not lose letters that touch a drawing); none when it is 0."""
    marked: list[tuple] = []
    draw = PageRenderer._mark_words

    def spy(self, canvas, style, rect):
        marked.append(rect)
        draw(self, canvas, style, rect)

    monkeypatch.setattr(PageRenderer, "_mark_words", spy)
    page = PageRenderer(fonts, seed=4, cfg=small_cfg(p_word_mark=1.0)).render_detailed()
    starts = {w.canvas_box[0] for w in page.words}
    assert len(marked) >= len(page.words) // 2  # every word, alone or with its neighbour
    assert all(rect[0] in starts for rect in marked)  # each mark is drawn on a word's ink box

    marked.clear()
    PageRenderer(fonts, seed=4, cfg=small_cfg(p_word_mark=0.0)).render_detailed()
    assert not marked


def test_word_set_can_be_limited_to_named_families(tmp_path, fonts):
    """`data words --families` renders those families alone, and refuses a family it does not
    have, naming it, rather than quietly rendering the others."""
    from typer.testing import CliRunner

    from ocrsearch.cli import app

    out = tmp_path / "words"
    result = CliRunner().invoke(app, ["data", "words", "--fonts", str(FONT_DIR), "--families", "caveat",
                                      "--out", str(out), "--n", "3", "--seed", "4"])
    assert result.exit_code == 0, result.output
    expected = WordRenderer([s for s in fonts if s.family == "caveat"], seed=4)
    for line in (out / "labels.tsv").read_text().splitlines():
        name, text = line.split("\t")
        image, expected_text = expected.render()
        assert text == expected_text
        assert np.array_equal(cv2.cvtColor(cv2.imread(str(out / name)), cv2.COLOR_BGR2RGB), image)

    result = CliRunner().invoke(app, ["data", "words", "--fonts", str(FONT_DIR), "--families", "caveat,comic-nope",
                                      "--out", str(tmp_path / "bad"), "--n", "3"])
    assert result.exit_code != 0
    assert "comic-nope" in result.output

"""The command-line contract (DESIGN.md §2): JSON forms, exit codes, errors as `path: reason`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from ocrsearch.cli import app
from ocrsearch.config import DB_ENV_VAR

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def ingested(tmp_path: Path, make_photo, fake_models) -> tuple[Path, Path]:
    """A folder of two photos ingested into a database; returns (folder, db)."""
    folder = tmp_path / "photos"
    make_photo(folder / "board.jpg", ["Quarterly", "budget\t0.8", "review"], seed=1)
    make_photo(folder / "notes.jpg", ["meeting", "budgel\t0.6\tbudget:0.3"], seed=2)
    db = tmp_path / "db"
    result = invoke("ingest", folder, "--db", db)
    assert result.exit_code == 0, result.stderr
    return folder, db


def test_search_json_is_the_documented_list(ingested) -> None:
    """`search --json` prints one JSON list of {photo, score, matches: [{text, box, confidence}]}, best first."""
    folder, db = ingested
    result = invoke("search", "budget", "--db", db, "--json", "--limit", "10")

    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert [Path(h["photo"]).name for h in hits] == ["board.jpg", "notes.jpg"]
    assert hits[0]["score"] > hits[1]["score"]
    for hit in hits:
        assert set(hit) == {"photo", "score", "matches"} and Path(hit["photo"]).is_absolute()
        assert isinstance(hit["score"], float)
        for match in hit["matches"]:
            assert set(match) == {"text", "box", "confidence"}
            assert len(match["box"]) == 4 and all(isinstance(v, int) for v in match["box"])
    assert hits[0]["matches"] == [{"text": "budget", "box": hits[0]["matches"][0]["box"], "confidence": 0.8}]


def test_search_limit_caps_the_list(ingested) -> None:
    """--limit N returns at most N photos."""
    _, db = ingested
    assert len(json.loads(invoke("search", "budget", "--db", db, "--json", "--limit", "1").stdout)) == 1


def test_human_search_output_is_a_table_with_matched_words(ingested) -> None:
    """Without --json, search prints a ranked table naming the photo and the words with confidences."""
    _, db = ingested
    result = invoke("search", "budget", "--db", db)
    assert result.exit_code == 0
    assert "board.jpg" in result.stdout and "budget (0.80)" in result.stdout and "budgel (0.60)" in result.stdout


def test_db_defaults_to_the_environment_variable(ingested, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --db, $OCRSEARCH_DB names the database folder."""
    _, db = ingested
    monkeypatch.setenv(DB_ENV_VAR, str(db))
    assert len(json.loads(invoke("search", "meeting", "--json").stdout)) == 1


@pytest.mark.parametrize("query", ['"', "title:(budget", "*", "x" * 10_000, "日本語 ü", "a AND (b OR"])
def test_hostile_queries_exit_zero_with_json(ingested, query: str) -> None:
    """Any query string gives exit 0 and a JSON list; notes go to stderr."""
    _, db = ingested
    result = invoke("search", query, "--db", db, "--json")
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), list)


def test_search_without_a_database_says_so(tmp_path: Path) -> None:
    """Searching a folder with no database exits 1 with a message, and creates nothing."""
    result = invoke("search", "budget", "--db", tmp_path / "none", "--json")
    assert result.exit_code == 1 and "no ocrsearch database" in result.stderr
    assert not (tmp_path / "none").exists()


def test_read_json_is_one_object_per_photo(tmp_path: Path, make_photo, fake_models) -> None:
    """`read --json` prints one line per photo with image, width, height and words with box/quad/alternates."""
    a = make_photo(tmp_path / "a.jpg", ["budget", "meating\t0.5\tmeeting:0.25"], size=(120, 80))
    b = make_photo(tmp_path / "b.jpg", [], seed=3)

    result = invoke("read", a, b, "--json")

    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["image"] for o in objects] == [str(a), str(b)]
    first = objects[0]
    assert set(first) == {"image", "width", "height", "words"} and (first["width"], first["height"]) == (120, 80)
    word = first["words"][1]
    assert set(word) == {"text", "box", "quad", "confidence", "alternates"}
    assert word["text"] == "meating" and word["alternates"] == [{"text": "meeting", "confidence": 0.25}]
    assert len(word["quad"]) == 4 and all(len(p) == 2 for p in word["quad"])
    assert objects[1]["words"] == []


def test_read_in_worker_processes_prints_in_the_order_given(tmp_path: Path, make_photo, fake_models) -> None:
    """`read --workers 2` reads in two processes and still prints one object per photo, in order,
    though the workers take the largest files first (here the last ones given)."""
    photos = [make_photo(tmp_path / f"p{i}.jpg", [f"word{i}"], seed=i, size=(96 + 40 * i, 64 + 30 * i)) for i in range(6)]
    assert sorted(photos, key=lambda p: -p.stat().st_size) == photos[::-1]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")

    result = invoke("read", *photos[:3], bad, *photos[3:], "--json", "--workers", "2")

    assert result.exit_code == 1 and result.stderr.strip() == f"{bad}: empty file (0 bytes)"
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["image"] for o in objects] == [str(p) for p in photos]
    assert [[w["text"] for w in o["words"]] for o in objects] == [[f"word{i}"] for i in range(6)]


def test_read_reports_bad_photos_and_exits_1(tmp_path: Path, make_photo, fake_models) -> None:
    """A photo that cannot be read is a `path: reason` line on stderr; the others are still printed."""
    good = make_photo(tmp_path / "good.jpg", ["fine"])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")

    result = invoke("read", bad, good, "--json")

    assert result.exit_code == 1
    assert result.stderr.strip() == f"{bad}: empty file (0 bytes)"
    assert json.loads(result.stdout)["image"] == str(good)


def test_recognize_json_is_one_object_per_crop_in_order(tmp_path: Path, make_photo, fake_models) -> None:
    """`recognize --json` prints {image, text, confidence} per crop, in the order given."""
    crops = [make_photo(tmp_path / f"w{i}.png", size=(20 + i, 10)) for i in range(3)]

    result = invoke("recognize", *crops, "--json")

    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["image"] for o in objects] == [str(c) for c in crops]
    assert [o["text"] for o in objects] == ["crop20x10", "crop21x10", "crop22x10"]
    assert all(set(o) == {"image", "text", "confidence"} and isinstance(o["confidence"], float) for o in objects)


def test_ingest_with_failures_exits_1_and_reports_each(tmp_path: Path, make_photo, fake_models) -> None:
    """Failed photos: `path: reason` on stderr, summary on stdout, exit 1, good photos indexed, no progress bar in pipes."""
    folder = tmp_path / "photos"
    make_photo(folder / "good.jpg", ["budget"])
    (folder / "empty.jpg").write_bytes(b"")
    db = tmp_path / "db"

    result = invoke("ingest", folder, tmp_path / "missing", "--db", db)

    assert result.exit_code == 1
    assert sorted(result.stderr.splitlines()) == sorted([f"{(folder / 'empty.jpg').resolve()}: empty file (0 bytes)",
                                                         f"{tmp_path / 'missing'}: no such file or folder"])
    assert result.stdout.startswith("indexed 1, unchanged 0, failed 2")
    assert len(json.loads(invoke("search", "budget", "--db", db, "--json").stdout)) == 1


def test_second_ingest_reports_unchanged_and_exits_0(ingested) -> None:
    """Re-running ingest on the same photos reads nothing and succeeds."""
    folder, db = ingested
    result = invoke("ingest", folder, "--db", db)
    assert result.exit_code == 0 and result.stdout.startswith("indexed 0, unchanged 2, failed 0")


def test_ingest_force_reads_unchanged_photos_again(ingested) -> None:
    """--force reads photos whose files did not change (as after an upgrade of the models: here the
    sidecar the fake reader reads stands for them), and their new words replace the old ones."""
    folder, db = ingested
    (folder / "board.txt").write_text("forecast\n", encoding="utf-8")
    assert invoke("ingest", folder, "--db", db).stdout.startswith("indexed 0, unchanged 2, failed 0")
    assert json.loads(invoke("search", "forecast", "--db", db, "--json").stdout) == []

    result = invoke("ingest", folder, "--db", db, "--force")
    assert result.exit_code == 0 and result.stdout.startswith("indexed 2, unchanged 0, failed 0")
    hits = json.loads(invoke("search", "forecast", "--db", db, "--json").stdout)
    assert [Path(hit["photo"]).name for hit in hits] == ["board.jpg"]
    assert json.loads(invoke("search", "quarterly", "--db", db, "--json").stdout) == []


def test_ingest_with_other_reading_options_says_unchanged_photos_need_force(ingested) -> None:
    """Unchanged photos are skipped whatever the options: with reading options other than the
    defaults, ingest says so and names --force; with the defaults it says nothing more."""
    folder, db = ingested
    plain = invoke("ingest", folder, "--db", db)
    assert plain.exit_code == 0 and plain.stderr == ""
    greedy = invoke("ingest", folder, "--db", db, "--decoder", "greedy")
    assert greedy.exit_code == 0 and greedy.stdout.startswith("indexed 0, unchanged 2")
    assert "2 unchanged photos" in greedy.stderr and "--force" in greedy.stderr


def test_concurrent_ingest_stops_with_a_clear_message(ingested) -> None:
    """With the write lock held elsewhere, ingest waits --wait seconds, then exits 1 saying why."""
    from filelock import FileLock

    folder, db = ingested
    with FileLock(str(db / "ingest.lock")):
        result = invoke("ingest", folder, "--db", db, "--wait", "0.2")
    assert result.exit_code == 1 and "another ocrsearch process is writing" in result.stderr


@pytest.mark.parametrize("args", [[], ["search"], ["search", "x", "--limit", "0"], ["ingest"], ["read"],
                                  ["search", "x", "--bogus"], ["show", "x.jpg"], ["nosuchcommand"],
                                  ["read", "x.jpg", "--decoder", "magic"], ["read", "x.jpg", "--binarizer", "magic"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Missing arguments, bad values and unknown options exit 2."""
    assert runner.invoke(app, args).exit_code == 2


def test_show_draws_the_matched_words(ingested, tmp_path: Path) -> None:
    """`show PHOTO --query Q -o out.png` writes the photo with the matched words boxed."""
    folder, db = ingested
    out = tmp_path / "shown.png"

    result = invoke("show", folder / "board.jpg", "--query", "budget", "-o", out, "--db", db)

    assert result.exit_code == 0 and "1 words boxed" in result.stdout
    original = Image.open(folder / "board.jpg")
    drawn = Image.open(out)
    assert drawn.size == original.size


def test_search_show_writes_one_image_per_hit(ingested, tmp_path: Path) -> None:
    """`search --show DIR` writes a boxed copy of each ranked photo."""
    _, db = ingested
    result = invoke("search", "budget", "--db", db, "--show", tmp_path / "shown")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "shown").iterdir()) == ["01-board.png", "02-notes.png"]


def test_remove_reindex_and_stats(ingested) -> None:
    """remove forgets photos, reindex rebuilds from the store, stats --json counts what is there."""
    folder, db = ingested
    assert invoke("remove", folder / "notes.jpg", "--db", db).exit_code == 0
    assert invoke("remove", folder / "notes.jpg", "--db", db).exit_code == 1  # not there any more
    assert invoke("reindex", "--db", db).stdout.strip() == "reindexed 1 photos"

    figures = json.loads(invoke("stats", "--db", db, "--json").stdout)

    assert (figures["photos_indexed"], figures["index_documents"], figures["words"]) == (1, 1, 3)
    assert [Path(h["photo"]).name for h in json.loads(invoke("search", "meeting budget", "--db", db, "--json").stdout)] \
        == ["board.jpg"]


def test_cold_search_does_not_import_sqlalchemy(ingested) -> None:
    """`ocrsearch search` reads words with sqlite3 only: SQLAlchemy's import is a third of a cold search."""
    _, db = ingested
    probe = ("import json, sys; from typer.testing import CliRunner; from ocrsearch.cli import app; "
             f"r = CliRunner().invoke(app, ['search', 'budget', '--db', {str(db)!r}, '--json']); "
             "print(json.dumps([r.exit_code, len(json.loads(r.stdout)), 'sqlalchemy' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == [0, 2, False]


def test_version_prints_a_line() -> None:
    """`--version` prints the version on one line (the scorer records it)."""
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("ocrsearch ")


def test_full_resolution_option_turns_reduced_decoding_off(monkeypatch):
    """`--full-resolution` (or OCRSEARCH_FULL_RESOLUTION) reads JPEGs at full size; the default decodes
    large JPEGs at reduced scale."""
    from ocrsearch.cli import _pipeline_config
    from ocrsearch.config import PipelineConfig

    assert _pipeline_config("beam", None, False).decode_min_side == PipelineConfig().decode_min_side is not None
    assert _pipeline_config("greedy", None, True).decode_min_side is None
    for command in ("read", "ingest"):
        result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
        assert "--full-resolution" in result.output


def test_read_with_unloadable_recognizer_fails_with_a_message(tmp_path: Path, make_photo) -> None:
    """The recognizer loads in the background while the first photo is read; a load failure is one
    clear message and exit 1, not a traceback and not a per-photo error."""
    photo = make_photo(tmp_path / "a.jpg", ["budget"], size=(200, 120))
    missing = tmp_path / "absent.pt"

    result = invoke("read", photo, "--json", "--recognizer-weights", missing)

    assert result.exit_code == 1
    assert "cannot load the models" in result.stderr and "absent.pt" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("binarizer", ["unet", "classic"])
def test_binarize_and_detect_commands_with_either_binarizer(tmp_path: Path, binarizer: str) -> None:
    """`binarize` writes a photo-sized ink PNG with ink on it; `detect --json` finds the written words."""
    import cv2
    import numpy as np

    width, height = 640, 360
    board = np.full((height, width, 3), 225, np.uint8)
    for i, line in enumerate(["Quarterly budget", "review costs"]):
        cv2.putText(board, line, (40, 120 + 110 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (40, 40, 140), 4)
    photo = tmp_path / "board.jpg"
    cv2.imwrite(str(photo), board)
    result = invoke("binarize", photo, "-o", tmp_path / "ink.png", "--binarizer", binarizer)
    assert result.exit_code == 0, result.stderr
    ink = cv2.imread(str(tmp_path / "ink.png"), cv2.IMREAD_GRAYSCALE)
    assert ink.shape == (height, width) and 0 < (ink == 0).mean() < 0.5  # some ink, mostly paper
    result = invoke("detect", photo, "--json", "--binarizer", binarizer)
    assert result.exit_code == 0, result.stderr
    words = json.loads(result.stdout)["words"]
    assert len(words) >= 3
    assert all(0 <= w["box"][0] < w["box"][2] <= width and 0 <= w["box"][1] < w["box"][3] <= height for w in words)
    assert invoke("detect", photo, "--binarizer", "magic").exit_code == 2


def test_eval_detector_measures_line_coverage_of_detector_and_pipeline_words(tmp_path: Path) -> None:
    """`eval detector` covers a page's line boxes with the ink detector's boxes, or with the words
    the whole pipeline keeps (`--detector pipeline`), and says which it measured."""
    import cv2
    import numpy as np

    board = np.full((360, 640, 3), 225, np.uint8)
    lines = []
    for i, text in enumerate(["Quarterly budget", "review costs"]):
        cv2.putText(board, text, (40, 120 + 110 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (40, 40, 140), 4)
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.6, 4)
        lines.append({"text": text, "box": [40, 120 + 110 * i - h, 40 + w, 120 + 110 * i + 6],
                      "type": "DefaultLine:Handwritten"})
    (tmp_path / "pages").mkdir()
    cv2.imwrite(str(tmp_path / "pages" / "board.jpg"), board)
    row = {"image": "pages/board.jpg", "width": 640, "height": 360, "words": [], "lines": lines}
    (tmp_path / "pages.jsonl").write_text(json.dumps(row) + "\n")
    for detector, says in [("ink", "(binarize+detect)"), ("pipeline", "(read)")]:
        result = invoke("eval", "detector", "--data", tmp_path, "--detector", detector)
        assert result.exit_code == 0, result.stderr
        coverage = float(result.stdout.split("mean coverage=")[1].split()[0])
        assert coverage > 0.8 and says in result.stdout and "n=2" in result.stdout
    assert invoke("eval", "detector", "--data", tmp_path, "--detector", "magic").exit_code == 2


def test_detect_can_show_the_kernel_nets_boxes_or_the_words_read_keeps(tmp_path: Path) -> None:
    """`detect --detector kernel` gives the learned net's boxes; `--detector pipeline` the words `read`
    keeps, each with its reading, and draws them."""
    import cv2
    import numpy as np

    board = np.full((360, 640, 3), 225, np.uint8)
    for i, line in enumerate(["Quarterly budget", "review costs"]):
        cv2.putText(board, line, (40, 120 + 110 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (40, 40, 140), 4)
    photo = tmp_path / "board.jpg"
    cv2.imwrite(str(photo), board)
    kernel = json.loads(invoke("detect", photo, "--json", "--detector", "kernel").stdout)["words"]
    assert len(kernel) >= 3 and all("text" not in w for w in kernel)
    result = invoke("detect", photo, "--json", "--detector", "pipeline", "-o", tmp_path / "words.png")
    assert result.exit_code == 0, result.stderr
    words = json.loads(result.stdout)["words"]
    assert {"budget", "review"} <= {w["text"].lower() for w in words}
    assert all(0 <= w["score"] <= 1 and len(w["quad"]) == 4 for w in words)
    assert cv2.imread(str(tmp_path / "words.png")).shape == (360, 640, 3)
    assert invoke("detect", photo, "--detector", "magic").exit_code == 2

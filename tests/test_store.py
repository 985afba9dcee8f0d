"""The store: migrations, one transaction per photo, failures that never erase what was indexed."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import page
from sqlalchemy import text

from ocrsearch.config import DbLayout
from ocrsearch.store import ALEMBIC_DIR, SCHEMA_REVISION, PhotoInput, Store, StoredState, StoreError
from ocrsearch.index import Index
from ocrsearch.types import Word
from ocrsearch.words import SchemaMismatch, WordReader, pack_words, unpack_words

REPO = Path(__file__).resolve().parent.parent


def _alembic_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_schema_revision_constant_is_the_alembic_head() -> None:
    """Store skips Alembic when a database is at SCHEMA_REVISION, so it must be the newest migration."""
    assert SCHEMA_REVISION == _alembic_head()


def test_opening_an_empty_database_runs_the_migrations(layout: DbLayout) -> None:
    """A new database file is created, migrated to head, and put in WAL mode."""
    with Store(layout.sqlite_path) as store:
        assert store.revision() == _alembic_head()
        with store.engine.connect() as conn:
            tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
            journal = conn.execute(text("PRAGMA journal_mode")).scalar()
    assert {"photos", "photo_words", "photo_text", "alembic_version"} <= tables
    assert journal == "wal"


def test_alembic_command_line_upgrades_a_database_folder(tmp_path: Path) -> None:
    """`alembic -x db=DIR upgrade head` from the repo root creates DIR/ocrsearch.sqlite3 at head."""
    db = tmp_path / "cli-db"
    subprocess.run([sys.executable, "-m", "alembic", "-x", f"db={db}", "upgrade", "head"], cwd=REPO, check=True,
                   capture_output=True)
    with sqlite3.connect(db / "ocrsearch.sqlite3") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == _alembic_head()


def test_database_from_a_newer_version_is_refused(layout: DbLayout) -> None:
    """A database stamped with an unknown revision raises StoreError instead of being altered."""
    Store(layout.sqlite_path).open().close()
    with sqlite3.connect(layout.sqlite_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(StoreError, match="9999"):
        Store(layout.sqlite_path).open()


def test_read_only_open_of_a_missing_database_says_so(layout: DbLayout) -> None:
    """Commands that only read do not create a database; they explain that there is none."""
    with pytest.raises(StoreError, match="no ocrsearch database"):
        Store(layout.sqlite_path, create=False).open()
    assert not layout.sqlite_path.exists()


def test_rewriting_a_photo_replaces_its_words(layout: DbLayout) -> None:
    """A photo re-read with new content keeps one row, its first creation time, and only the new words."""
    with Store(layout.sqlite_path) as store:
        store.put_reading(PhotoInput("/p/a.jpg", "hash1", 10, page("old", "words")))
        created = store.get("/p/a.jpg").created_at
        store.put_reading(PhotoInput("/p/a.jpg", "hash2", 11, page("new")))

        record = store.get("/p/a.jpg")
        words = store.words_by_path(["/p/a.jpg"])["/p/a.jpg"]

    assert record.content_hash == "hash2" and record.created_at == created
    assert [w.text for w in words] == ["new"]


def test_words_round_trip_with_boxes_quads_and_alternates(layout: DbLayout) -> None:
    """What the pipeline read comes back from the store as it went in."""
    reading = page("budgct", ("meeting", [("meating", 0.25)]))
    with Store(layout.sqlite_path) as store:
        store.put_reading(PhotoInput("/p/a.jpg", "h", 1, reading, "models-1"))
        words = store.words_by_path(["/p/a.jpg"])["/p/a.jpg"]
        record = store.get("/p/a.jpg")

    assert [(w.text, w.box, w.alternates) for w in words] == [
        ("budgct", (0, 0, 9, 9), []), ("meeting", (10, 0, 19, 9), [("meating", 0.25)])]
    assert words[1].quad == [[10.0, 0.0], [19.0, 0.0], [19.0, 9.0], [10.0, 9.0]]
    assert (record.width, record.height, record.status, record.model_version) == (1000, 100, "indexed", "models-1")


def test_bulk_write_is_one_transaction(layout: DbLayout) -> None:
    """If any photo of a batch cannot be written, none of the batch is (no half-written photos)."""
    broken = page("fine")
    broken.words[0].quad = [[0, 0]]  # not a quadrilateral: encoding fails mid-batch
    with Store(layout.sqlite_path) as store:
        with pytest.raises(ValueError):
            store.add_many([PhotoInput("/p/a.jpg", "h", 1, page("first")), PhotoInput("/p/b.jpg", "h", 1, broken)])
        assert store.states() == {}


def test_transaction_rolls_back_on_exception(layout: DbLayout) -> None:
    """store.transaction() commits only when its block completes."""
    with Store(layout.sqlite_path) as store:
        with pytest.raises(RuntimeError):
            with store.transaction() as conn:
                conn.execute(text("INSERT INTO photos (path, status, created_at, updated_at) "
                                  "VALUES ('/p/x.jpg', 'indexed', '2024-01-01', '2024-01-01')"))
                raise RuntimeError("crash inside the transaction")
        assert store.get("/p/x.jpg") is None


def test_failure_of_an_indexed_photo_keeps_its_words(layout: DbLayout) -> None:
    """A photo that was indexed and then fails to read keeps its words and old hash; the error is noted."""
    with Store(layout.sqlite_path) as store:
        store.put_reading(PhotoInput("/p/a.jpg", "good", 1, page("budget")))
        store.put_failure("/p/a.jpg", "broken", 1, "truncated or corrupt image")
        store.put_failure("/p/new.jpg", None, None, "empty file (0 bytes)")

        kept = store.get("/p/a.jpg")
        words = store.words_by_path(["/p/a.jpg"])["/p/a.jpg"]
        new = store.get("/p/new.jpg")

    assert (kept.status, kept.content_hash, kept.error) == ("indexed", "good", "truncated or corrupt image")
    assert [w.text for w in words] == ["budget"]
    assert (new.status, new.error) == ("failed", "empty file (0 bytes)")


def test_remove_deletes_photos_and_their_words(layout: DbLayout) -> None:
    """Removing photos leaves no orphan words; unknown paths are ignored."""
    with Store(layout.sqlite_path) as store:
        store.add_many([PhotoInput("/p/a.jpg", "h", 1, page("one", "two")), PhotoInput("/p/b.jpg", "h", 1, page("x"))])
        assert store.remove(["/p/a.jpg", "/p/unknown.jpg"]) == ["/p/a.jpg"]
        assert store.stats().words == 1


def test_paths_under_a_folder_match_only_that_folder(layout: DbLayout) -> None:
    """paths_under('/p/a') finds /p/a/x.jpg but not /p/ab/x.jpg, and treats % and _ literally."""
    with Store(layout.sqlite_path) as store:
        store.add_many([PhotoInput(p, "h", 1, page()) for p in ("/p/a/x.jpg", "/p/ab/x.jpg", "/p/a_%/y.jpg")])
        assert store.paths_under("/p/a") == ["/p/a/x.jpg"]
        assert store.paths_under("/p/a_%") == ["/p/a_%/y.jpg"]


def test_photo_texts_include_photos_without_words(layout: DbLayout) -> None:
    """The index is built from iter_photo_texts, so an indexed photo with no words is still listed."""
    with Store(layout.sqlite_path) as store:
        store.add_many([PhotoInput("/p/blank.jpg", "h0", 1, page()),
                        PhotoInput("/p/a.jpg", "h1", 1, page(("budgct", [("budget", 0.3)])))])
        store.put_failure("/p/bad.jpg", None, None, "not an image")
        texts = [t for batch in store.iter_photo_texts(batch_size=1) for t in batch]

    assert [(t.path, t.words, t.alternates) for t in texts] == [("/p/blank.jpg", [], []),
                                                                ("/p/a.jpg", ["budgct"], ["budget"])]


def test_word_reader_reads_what_the_store_wrote(layout: DbLayout) -> None:
    """The SQLAlchemy-free reader used by cold searches returns the same words as the Store."""
    with Store(layout.sqlite_path) as store:
        store.put_reading(PhotoInput("/p/a.jpg", "h", 1, page("budget", ("meating", [("meeting", 0.25)]))))
        expected = store.words_by_path(["/p/a.jpg", "/p/none.jpg"])

    with WordReader(layout.sqlite_path) as reader:
        assert reader.words_by_path(["/p/a.jpg", "/p/none.jpg"]) == expected
    assert expected["/p/a.jpg"][1].alternates == [("meeting", 0.25)]


def test_word_reader_refuses_a_database_at_another_revision(layout: DbLayout) -> None:
    """WordReader never reads a schema it was not written for; the Store must migrate it first."""
    Store(layout.sqlite_path).open().close()
    with sqlite3.connect(layout.sqlite_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")

    with pytest.raises(SchemaMismatch):
        WordReader(layout.sqlite_path).open()


@pytest.mark.parametrize("alternates", [
    [], [("budget", 0.25)], [("Straße \"quoted\" \\ back", 0.123456), ("naïve\ttab", 1e-07), ("😀", 1.0)],
    [("nan", math.nan), ("inf", math.inf)],
])
def test_packed_words_come_back_as_written(alternates) -> None:
    """Packing keeps texts, confidences and quads exactly (numpy scalars too), alternates to 4 decimals."""
    words = [Word("Straße", np.float32(0.5), (np.int64(1), 2, 3, 4), [[0.25, 1 / 3], [2, 0], [2, 2], [0, 2]]),
             Word("x", 1 / 3, (5, 6, 7, 8), np.array([[1.5, 2], [3, 2], [3, 4], [1.5, 4]]).tolist(), alternates)]

    back = unpack_words(*pack_words(words)[1:])

    assert [(w.text, w.confidence, w.box, w.quad) for w in back] == [
        ("Straße", 0.5, (1, 2, 3, 4), [[0.25, 1 / 3], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]),
        ("x", 1 / 3, (5, 6, 7, 8), [[1.5, 2.0], [3.0, 2.0], [3.0, 4.0], [1.5, 4.0]])]
    assert back[0].alternates == []
    assert [t for t, _ in back[1].alternates] == [t for t, _ in alternates]
    assert [c for _, c in back[1].alternates if math.isfinite(c)] == [round(c, 4) for _, c in alternates if math.isfinite(c)]


def _database_at(folder: Path, revision: str) -> Path:
    """A new database in `folder`, migrated up to `revision` only (as an older ocrsearch left it)."""
    from alembic import command

    sqlite_path = folder / "ocrsearch.sqlite3"
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{sqlite_path}")
    command.upgrade(config, revision)
    return sqlite_path


def test_migration_from_0001_packs_words_and_indexes_them(tmp_path: Path) -> None:
    """A database written by the previous version (a row per word, a Whoosh index) is migrated on
    open: its words come back the same and every indexed photo is searchable, failed ones are not."""
    sqlite_path = _database_at(tmp_path, "0001")
    with sqlite3.connect(sqlite_path) as conn:
        conn.executemany("INSERT INTO photos (id, path, content_hash, status, created_at, updated_at) "
                         "VALUES (?, ?, 'h', ?, '2025-01-01', '2025-01-01')",
                         [(1, "/p/a.jpg", "indexed"), (2, "/p/blank.jpg", "indexed"), (3, "/p/bad.jpg", "failed")])
        conn.executemany("INSERT INTO words (photo_id, text, confidence, x0, y0, x1, y1, quad, alternates) "
                         "VALUES (1, ?, 0.75, ?, 0, ?, 9, ?, ?)",
                         [("Quarterly", 0, 9, "[[0.0,0.0],[9.0,0.0],[9.0,9.0],[0.0,9.0]]", "[]"),
                          ("budgct", 10, 19, "[[10.5,0.0],[19.0,0.0],[19.0,9.0],[10.0,9.0]]",
                           '[{"text": "budget", "confidence": 0.3}]')])

    with Store(sqlite_path) as store:
        assert store.revision() == SCHEMA_REVISION
        words = store.words_by_path(["/p/a.jpg"])["/p/a.jpg"]
        assert [(w.text, w.confidence, w.box, w.quad[0], w.alternates) for w in words] == [
            ("Quarterly", 0.75, (0, 0, 9, 9), [0.0, 0.0], []), ("budgct", 0.75, (10, 0, 19, 9), [10.5, 0.0], [("budget", 0.3)])]
        assert store.stats().words == 2
        with Index(sqlite_path) as index:
            assert sorted(index.hashes()) == ["/p/a.jpg", "/p/blank.jpg"]
            from ocrsearch.search import PhotoSearcher

            hits = PhotoSearcher(store, index).search('"quarterly budgct"').hits
            assert [h.photo for h in hits] == ["/p/a.jpg"]
            assert [h.photo for h in PhotoSearcher(store, index).search("budget").hits] == ["/p/a.jpg"]


def test_migration_from_0002_indexes_apostrophe_parts(tmp_path: Path) -> None:
    """An index written before 0003 (apostrophe words as one token) is re-tokenized on open, so
    that "boston" finds a photo where "Boston's" was read; failed photos stay out."""
    from ocrsearch.search import PhotoSearcher
    from ocrsearch.types import Word
    from ocrsearch.words import pack_words

    sqlite_path = _database_at(tmp_path, "0002")
    words = [Word("Boston's", 0.9, (0, 0, 9, 9), [[0, 0], [9, 0], [9, 9], [0, 9]]),
             Word("office", 0.8, (10, 0, 19, 9), [[10, 0], [19, 0], [19, 9], [10, 9]])]
    with sqlite3.connect(sqlite_path) as conn:
        conn.executemany("INSERT INTO photos (id, path, content_hash, status, created_at, updated_at) "
                         "VALUES (?, ?, 'h', ?, '2025-01-01', '2025-01-01')",
                         [(1, "/p/a.jpg", "indexed"), (2, "/p/bad.jpg", "failed")])
        conn.execute("INSERT INTO photo_words VALUES (?, ?, ?, ?, ?, ?, ?)", (1, *pack_words(words)))
        conn.execute("INSERT INTO photo_text (rowid, text, alt) VALUES (1, ?, '')", ("boston's office",))  # 0002's tokens

    with Store(sqlite_path) as store, Index(sqlite_path) as index:
        assert store.revision() == SCHEMA_REVISION
        searcher = PhotoSearcher(store, index)
        assert [h.photo for h in searcher.search("boston").hits] == ["/p/a.jpg"]
        assert [h.photo for h in searcher.search('"boston\'s office"').hits] == ["/p/a.jpg"]
        assert index.doc_count() == 1


def test_migration_from_0003_leaves_stored_photos_without_a_modification_time(tmp_path: Path) -> None:
    """Photos stored before 0004 have no modification time, so ingest hashes them once (as before)
    and records their size and time with `restamp`; photos read since carry theirs."""
    sqlite_path = _database_at(tmp_path, "0003")
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("INSERT INTO photos (id, path, content_hash, size, status, created_at, updated_at) "
                     "VALUES (1, '/p/a.jpg', 'h', 10, 'indexed', '2025-01-01', '2025-01-01')")

    with Store(sqlite_path) as store:
        assert store.revision() == SCHEMA_REVISION
        assert store.states() == {"/p/a.jpg": StoredState("h", "indexed", 10, None)}
        store.restamp({"/p/a.jpg": (12, 1_700_000_000_123_456_789)})
        store.put_reading(PhotoInput("/p/b.jpg", "h2", 20, page("budget"), "models-1", 1_800_000_000_000_000_001))
        assert store.states() == {"/p/a.jpg": StoredState("h", "indexed", 12, 1_700_000_000_123_456_789),
                                  "/p/b.jpg": StoredState("h2", "indexed", 20, 1_800_000_000_000_000_001)}
        assert store.get("/p/b.jpg").mtime_ns == 1_800_000_000_000_000_001

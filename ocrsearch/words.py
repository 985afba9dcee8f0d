"""Reading stored words without SQLAlchemy: the hot path of every search.

`ocrsearch search` is a new process per query; importing SQLAlchemy and its ORM costs about a third
of a cold search, and a search only reads words. `WordReader` reads them with the sqlite3 module
from a database already at `SCHEMA_REVISION`; the `Store` (SQLAlchemy, migrations, writes) uses
the same `fetch_words` on its own connection, so there is one way to read words.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as encode_json_string
from pathlib import Path

# The Alembic head this code was written for. Opening a database at this revision skips Alembic
# entirely (it costs ~100 ms of imports per command); tests check it equals the scripts' head.
SCHEMA_REVISION = "0001"

_SQL_CHUNK = 500  # paths per IN (...) list, well below SQLite's bound-parameter limit
MMAP_BYTES = 256 * 2**20  # memory-mapped reads: a search touches ~2,000 rows scattered over the file


class SchemaMismatch(Exception):
    """The database is not at SCHEMA_REVISION (new, or needs a migration): open it with Store."""


@dataclass(frozen=True)
class StoredWord:
    """A word as stored. Quad and alternates stay JSON text until asked for: a search reads every
    word of its top photos (thousands) but draws or reports only the few that matched."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    quad_json: str
    alternates_json: str = "[]"

    @classmethod
    def of(cls, text: str, confidence: float, box: tuple[int, int, int, int], quad: Sequence[Sequence[float]],
           alternates: Sequence[tuple[str, float]] = ()) -> StoredWord:
        return cls(text, confidence, box, encode_quad(quad), encode_alternates(alternates))

    @property
    def quad(self) -> list[list[float]]:
        return json.loads(self.quad_json)

    @property
    def alternates(self) -> list[tuple[str, float]]:
        return decode_alternates(self.alternates_json)

    @property
    def has_alternates(self) -> bool:
        return self.alternates_json != "[]"


def encode_quad(quad: Sequence[Sequence[float]]) -> str:
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad
    return "[[%.1f,%.1f],[%.1f,%.1f],[%.1f,%.1f],[%.1f,%.1f]]" % (ax, ay, bx, by, cx, cy, dx, dy)


def encode_alternates(alternates: Sequence[tuple[str, float]]) -> str:
    """The JSON text json.dumps(ensure_ascii=False) gives, formatted directly (twice as fast: a bulk
    write encodes tens of thousands of these)."""
    if not alternates:
        return "[]"
    confidences = [round(float(c), 4) for _, c in alternates]
    if not all(map(math.isfinite, confidences)):  # NaN/Infinity are spelt by json's own rules
        return json.dumps([{"text": t, "confidence": c} for (t, _), c in zip(alternates, confidences)],
                          ensure_ascii=False)
    return "[" + ", ".join('{"text": %s, "confidence": %r}' % (encode_json_string(t), c)
                           for (t, _), c in zip(alternates, confidences)) + "]"


def decode_alternates(encoded: str) -> list[tuple[str, float]]:
    if encoded == "[]":
        return []
    return [(a["text"], float(a["confidence"])) for a in json.loads(encoded)]


def fetch_words(connection: sqlite3.Connection, paths: Collection[str]) -> dict[str, list[StoredWord]]:
    """The stored words of each photo, in the order the detector gave them (plain sqlite3: this
    runs on every search, and fetching row by row through SQLAlchemy would double its cost)."""
    found: dict[str, list[StoredWord]] = {path: [] for path in paths}
    for chunk in _chunks(list(found), _SQL_CHUNK):
        marks = ",".join("?" * len(chunk))
        path_of = dict(connection.execute(f"SELECT id, path FROM photos WHERE path IN ({marks})", chunk).fetchall())
        if not path_of:
            continue
        rows = connection.execute(
            f"SELECT photo_id, text, confidence, x0, y0, x1, y1, quad, alternates FROM words "
            f"WHERE photo_id IN ({','.join('?' * len(path_of))}) ORDER BY id", tuple(path_of)).fetchall()
        for photo_id, text, confidence, x0, y0, x1, y1, quad, alternates in rows:
            found[path_of[photo_id]].append(StoredWord(text, confidence, (x0, y0, x1, y1), quad, alternates))
    return found


class WordReader:
    """Read-only access to stored words for searching; see the module docstring."""

    def __init__(self, sqlite_path: Path):
        self.sqlite_path = Path(sqlite_path)
        self._connection: sqlite3.Connection | None = None

    def open(self) -> WordReader:
        if self._connection is not None:
            return self
        if not self.sqlite_path.is_file():
            raise FileNotFoundError(f"{self.sqlite_path.parent}: no ocrsearch database here (run `ocrsearch ingest` first)")
        connection = sqlite3.connect(self.sqlite_path, timeout=30)
        try:
            connection.execute("PRAGMA query_only=1")
            connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as e:
            connection.close()
            raise SchemaMismatch(f"{self.sqlite_path}: {e}") from None
        if revision is None or revision[0] != SCHEMA_REVISION:
            connection.close()
            raise SchemaMismatch(f"{self.sqlite_path}: schema revision {revision and revision[0]!r}, "
                                 f"expected {SCHEMA_REVISION!r}")
        self._connection = connection
        return self

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> WordReader:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def words_by_path(self, paths: Collection[str]) -> dict[str, list[StoredWord]]:
        if self._connection is None:
            raise RuntimeError("word reader is not open")
        return fetch_words(self._connection, paths)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

"""Stored words: how a photo's words are packed into one row, and read back without SQLAlchemy.

A photo's words are one row of `photo_words`, not one row per word: a bulk write of a few hundred
thousand words spent most of its time in SQLite's per-row insert and in formatting each quad's 8
floats as JSON. Texts and alternates are JSON; confidences, boxes and quads are little-endian
numpy arrays (float64, int32, float64), so that quads and confidences come back exactly as written.

`ocrsearch search` is a new process per query; importing SQLAlchemy and its ORM costs about a third
of a cold search, and a search only reads words. `WordReader` reads them with the sqlite3 module
from a database already at `SCHEMA_REVISION`; the `Store` (SQLAlchemy, migrations, writes) uses
the same `fetch_words` on its own connection, so there is one way to read words.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Collection, Iterator, Sequence
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np

# The Alembic head this code was written for. Opening a database at this revision skips Alembic
# entirely (it costs ~100 ms of imports per command); tests check it equals the scripts' head.
SCHEMA_REVISION = "0004"

_SQL_CHUNK = 500  # paths per IN (...) list, well below SQLite's bound-parameter limit
MMAP_BYTES = 256 * 2**20  # memory-mapped reads of the search's top photos

CONFIDENCE_DTYPE = np.dtype("<f8")
BOX_DTYPE = np.dtype("<i4")
QUAD_DTYPE = np.dtype("<f8")

_QUAD = struct.Struct("<8d")  # one word's quad in the packed quads: QUAD_DTYPE x 8
_quad_of = attrgetter("quad")
_box_of = attrgetter("box")


class SchemaMismatch(Exception):
    """The database is not at SCHEMA_REVISION (new, or needs a migration): open it with Store."""


class StoredWord(NamedTuple):
    """A word as stored: what the pipeline read, with its box, quad and alternate readings.

    The quad stays packed (8 float64) until asked for: a search reads every word of its top photos
    (thousands) but draws or reports only the few that matched, and decoding every quad into lists
    of floats was most of a search's time. A NamedTuple, not a dataclass, for the same reason.
    """

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    quad_data: bytes
    alternates: list[tuple[str, float]] = []

    @classmethod
    def of(cls, text: str, confidence: float, box: Sequence[int], quad: Sequence[Sequence[float]],
           alternates: Sequence[tuple[str, float]] = ()) -> StoredWord:
        return cls(text, float(confidence), tuple(int(v) for v in box), _QUAD.pack(*chain.from_iterable(quad)),
                   [(t, float(c)) for t, c in alternates])

    @property
    def quad(self) -> list[list[float]]:
        values = _QUAD.unpack(self.quad_data)
        return [list(values[i:i + 2]) for i in range(0, 8, 2)]

    @property
    def has_alternates(self) -> bool:
        return bool(self.alternates)


class PackedWords(NamedTuple):
    """The columns of one `photo_words` row."""

    word_count: int
    texts: str
    confidences: bytes
    boxes: bytes
    quads: bytes
    alternates: str


def pack_words(words: Sequence) -> PackedWords:
    """Pack a photo's words (anything with text, confidence, box, quad, alternates) into one row.

    Raises ValueError when a box does not have 4 values or a quad 4 points of 2.
    """
    n = len(words)
    confidences = np.fromiter((w.confidence for w in words), dtype=CONFIDENCE_DTYPE, count=n)
    # fromiter over the flattened values: about twice as fast as np.array on the nested lists
    boxes = np.fromiter(chain.from_iterable(map(_box_of, words)), dtype=BOX_DTYPE, count=4 * n)
    quads = np.fromiter(chain.from_iterable(chain.from_iterable(map(_quad_of, words))), dtype=QUAD_DTYPE, count=8 * n)
    if len(boxes) != 4 * n or len(quads) != 8 * n:  # count= only rejects iterators that are too short
        raise ValueError("every word needs a box of 4 values and a quad of 4 points")
    alternates = [[i, [[t, round(float(c), 4)] for t, c in w.alternates]] for i, w in enumerate(words) if w.alternates]
    return PackedWords(n, json.dumps([w.text for w in words], ensure_ascii=False), confidences.tobytes(),
                       boxes.tobytes(), quads.tobytes(), json.dumps(alternates, ensure_ascii=False) if alternates else "[]")


def unpack_texts(texts: str, alternates: str) -> tuple[list[str], list[str]]:
    """The 1-best texts and the alternate texts of a packed row (what the index is built from)."""
    return json.loads(texts), [t for _, alts in json.loads(alternates) for t, _ in alts]


def unpack_words(texts: str, confidences: bytes, boxes: bytes, quads: bytes, alternates: str) -> list[StoredWord]:
    text_list = json.loads(texts)
    confidence_list = np.frombuffer(confidences, dtype=CONFIDENCE_DTYPE).tolist()
    box_list = list(map(tuple, np.frombuffer(boxes, dtype=BOX_DTYPE).reshape(-1, 4).tolist()))
    size = _QUAD.size
    alternates_of = {i: [(t, c) for t, c in alts] for i, alts in json.loads(alternates)}
    return [StoredWord(text, confidence, box, quads[i * size:(i + 1) * size], alternates_of.get(i, []))
            for i, (text, confidence, box) in enumerate(zip(text_list, confidence_list, box_list))]


def fetch_words(connection: sqlite3.Connection, paths: Collection[str]) -> dict[str, list[StoredWord]]:
    """The stored words of each photo, in the order the detector gave them (plain sqlite3: this
    runs on every search)."""
    found: dict[str, list[StoredWord]] = {path: [] for path in paths}
    for chunk in _chunks(list(found), _SQL_CHUNK):
        marks = ",".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT p.path, w.texts, w.confidences, w.boxes, w.quads, w.alternates FROM photos p "
            f"JOIN photo_words w ON w.photo_id = p.id WHERE p.path IN ({marks})", chunk).fetchall()
        for path, *packed in rows:
            found[path] = unpack_words(*packed)
    return found


class WordReader:
    """Read-only access to stored words for searching; see the module docstring."""

    def __init__(self, sqlite_path: Path):
        self.sqlite_path = Path(sqlite_path)
        self._connection: sqlite3.Connection | None = None

    def open(self) -> WordReader:
        if self._connection is not None:
            return self
        self._connection = open_reader(self.sqlite_path)
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


def open_reader(sqlite_path: Path) -> sqlite3.Connection:
    """A read-only sqlite3 connection to a database at SCHEMA_REVISION (else SchemaMismatch)."""
    sqlite_path = Path(sqlite_path)
    if not sqlite_path.is_file():
        raise FileNotFoundError(f"{sqlite_path.parent}: no ocrsearch database here (run `ocrsearch ingest` first)")
    connection = sqlite3.connect(sqlite_path, timeout=30)
    try:
        connection.execute("PRAGMA query_only=1")
        connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as e:
        connection.close()
        raise SchemaMismatch(f"{sqlite_path}: {e}") from None
    if revision is None or revision[0] != SCHEMA_REVISION:
        connection.close()
        raise SchemaMismatch(f"{sqlite_path}: schema revision {revision and revision[0]!r}, expected {SCHEMA_REVISION!r}")
    return connection


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

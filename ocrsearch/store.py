"""The store: SQLite rows of photos and the words read on them (the source of truth), and the index.

A photo, its words and its full-text index row (ocrsearch/index.py) are written in one
transaction, so a crash leaves either the old words or the new ones, indexed as they are stored.
The index can also be rebuilt from the stored words (`rebuild_index`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, create_engine, delete, event, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from ocrsearch.index import FTS_TABLE, document_row
from ocrsearch.models import PHOTO_STATUS_FAILED, PHOTO_STATUS_INDEXED, PhotoRow, PhotoWordsRow
from ocrsearch.types import PageReading
from ocrsearch.words import MMAP_BYTES, SCHEMA_REVISION, StoredWord, fetch_words, pack_words, unpack_texts

__all__ = ["SCHEMA_REVISION", "ALEMBIC_DIR", "PhotoInput", "PhotoRecord", "PhotoText", "Store", "StoreError",
           "StoreStats", "StoredState", "StoredWord"]

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"

_photos = PhotoRow.__table__
_words = PhotoWordsRow.__table__
_SQL_CHUNK = 500  # ids per IN (...) list, well below SQLite's bound-parameter limit (as in words.py)
_INSERT_WORDS_SQL = ("INSERT INTO photo_words (photo_id, word_count, texts, confidences, boxes, quads, alternates) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_TEXT_SQL = f"INSERT INTO {FTS_TABLE} (rowid, text, alt) VALUES (?, ?, ?)"


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    path: str
    content_hash: str | None
    size: int | None
    mtime_ns: int | None
    width: int | None
    height: int | None
    status: str
    error: str | None
    model_version: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PhotoInput:
    """A photo that was read, ready to be written with its words."""

    path: str
    content_hash: str
    size: int
    reading: PageReading
    model_version: str = ""
    mtime_ns: int | None = None  # the file's modification time when it was read (None: unknown)


class StoredState(NamedTuple):
    """What ingest needs to know of a stored photo to tell whether its file changed."""

    content_hash: str | None
    status: str
    size: int | None
    mtime_ns: int | None


@dataclass(frozen=True)
class PhotoText:
    """What the index needs of a stored photo."""

    path: str
    content_hash: str
    words: list[str]
    alternates: list[str]


@dataclass(frozen=True)
class StoreStats:
    photos_indexed: int
    photos_failed: int
    words: int
    model_versions: dict[str, int]
    revision: str | None
    file_bytes: int


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: searches keep reading while an ingest writes; NORMAL sync is crash-safe in WAL mode
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


class Store:
    """SQLite store with an explicit lifecycle: `open()` (creating and migrating), use, `close()`."""

    def __init__(self, sqlite_path: Path, *, create: bool = True):
        self.sqlite_path = Path(sqlite_path)
        self.create = create
        self._engine: Engine | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> Store:
        if self._engine is not None:
            return self
        if not self.sqlite_path.exists():
            if not self.create:
                raise StoreError(f"{self.sqlite_path.parent}: no ocrsearch database here (run `ocrsearch ingest` first)")
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(f"sqlite:///{self.sqlite_path}")
        event.listen(engine, "connect", _set_sqlite_pragmas)
        try:
            self._migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        self._engine = engine
        return self

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("store is not open")
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _current_revision(conn)

    def _migrate(self, engine: Engine) -> None:
        try:
            with engine.connect() as conn:
                current = _current_revision(conn)
        except DBAPIError as e:
            raise StoreError(f"{self.sqlite_path}: not a usable SQLite database ({e.orig})") from None
        if current == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError

        if not (ALEMBIC_DIR / "env.py").is_file():
            raise StoreError(f"database migrations not found in {ALEMBIC_DIR}; install ocrsearch from its source tree")
        config = Config()
        config.set_main_option("script_location", str(ALEMBIC_DIR))
        try:
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as e:
            raise StoreError(f"{self.sqlite_path}: cannot migrate database at revision {current!r}: {e}") from None

    # -- reads ----------------------------------------------------------------------------------

    def get(self, path: str) -> PhotoRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_photos).where(_photos.c.path == path)).mappings().first()
        return PhotoRecord(**row) if row else None

    def states(self) -> dict[str, StoredState]:
        """path -> content hash, status, size and modification time of every photo."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_photos.c.path, _photos.c.content_hash, _photos.c.status, _photos.c.size,
                                       _photos.c.mtime_ns))
            return {path: StoredState(*state) for path, *state in rows}

    def restamp(self, stamps: dict[str, tuple[int, int]]) -> None:
        """Record the (size, modification time) of photos whose files were found unchanged by their hash
        (touched, copied, or stored before modification times were): the next ingest need not hash them."""
        if not stamps:
            return
        with self.transaction() as conn:
            conn.execute(update(_photos).where(_photos.c.path == bindparam("photo_path"))
                         .values(size=bindparam("photo_size"), mtime_ns=bindparam("photo_mtime_ns")),
                         [{"photo_path": path, "photo_size": size, "photo_mtime_ns": mtime_ns}
                          for path, (size, mtime_ns) in stamps.items()])

    def indexed_hashes(self) -> dict[str, str]:
        """path -> content hash of every photo whose words are stored (what the index must hold)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_photos.c.path, _photos.c.content_hash)
                                .where(_photos.c.status == PHOTO_STATUS_INDEXED))
            return {path: content_hash for path, content_hash in rows}

    def paths_under(self, folder: str) -> list[str]:
        prefix = folder.rstrip("/") + "/"
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            rows = conn.execute(select(_photos.c.path).where(_photos.c.path.like(escaped + "%", escape="\\")))
            return [path for (path,) in rows]

    def words_by_path(self, paths: Collection[str]) -> dict[str, list[StoredWord]]:
        """The stored words of each photo, in the order the detector gave them."""
        with self.engine.connect() as conn:
            return fetch_words(conn.connection.dbapi_connection, paths)

    def iter_photo_texts(self, paths: Collection[str] | None = None, batch_size: int = 1000) -> Iterator[list[PhotoText]]:
        """Batches of (path, hash, words, alternates) of indexed photos, for building the index."""
        query = (select(_photos.c.id, _photos.c.path, _photos.c.content_hash, _words.c.texts, _words.c.alternates)
                 .select_from(_photos.outerjoin(_words, _words.c.photo_id == _photos.c.id))
                 .where(_photos.c.status == PHOTO_STATUS_INDEXED)
                 .order_by(_photos.c.id))
        selections = [query] if paths is None else [query.where(_photos.c.path.in_(chunk))
                                                    for chunk in _chunks(list(paths), _SQL_CHUNK)]
        batch: list[PhotoText] = []
        with self.engine.connect() as conn:
            for selection in selections:
                for _, path, content_hash, texts, alternates in conn.execution_options(yield_per=batch_size).execute(selection):
                    words, alts = unpack_texts(texts, alternates) if texts is not None else ([], [])
                    batch.append(PhotoText(path, content_hash or "", words, alts))
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch

    def stats(self) -> StoreStats:
        with self.engine.connect() as conn:
            by_status = dict(conn.execute(select(_photos.c.status, func.count()).group_by(_photos.c.status)).all())
            n_words = conn.execute(select(func.coalesce(func.sum(_words.c.word_count), 0))).scalar_one()
            versions = dict(conn.execute(select(_photos.c.model_version, func.count())
                                         .where(_photos.c.status == PHOTO_STATUS_INDEXED)
                                         .group_by(_photos.c.model_version)).all())
            revision = _current_revision(conn)
        size = sum(p.stat().st_size for p in self.sqlite_path.parent.glob(self.sqlite_path.name + "*") if p.is_file())
        return StoreStats(photos_indexed=by_status.get(PHOTO_STATUS_INDEXED, 0),
                          photos_failed=by_status.get(PHOTO_STATUS_FAILED, 0), words=n_words,
                          model_versions={str(k): v for k, v in versions.items()}, revision=revision, file_bytes=size)

    # -- writes ---------------------------------------------------------------------------------

    def put_reading(self, item: PhotoInput) -> int:
        """Write one photo and its words in one transaction, replacing what was stored for its path."""
        return self.add_many([item])[item.path]

    def add_many(self, items: Sequence[PhotoInput]) -> dict[str, int]:
        """Write many photos and their words in one transaction (bulk insert); returns path -> photo id."""
        if not items:
            return {}
        now = _now()
        photo_rows = [{"path": it.path, "content_hash": it.content_hash, "size": it.size, "mtime_ns": it.mtime_ns,
                       "width": it.reading.width, "height": it.reading.height, "status": PHOTO_STATUS_INDEXED, "error": None,
                       "model_version": it.model_version, "created_at": now, "updated_at": now} for it in items]
        upsert = sqlite_insert(_photos)
        upsert = upsert.on_conflict_do_update(
            index_elements=[_photos.c.path],
            set_={name: upsert.excluded[name] for name in ("content_hash", "size", "mtime_ns", "width", "height",
                                                            "status", "error", "model_version", "updated_at")})
        # Packing is the costly part (most of a bulk write is turning numbers into bytes): done
        # before the transaction, so that the write lock is held for the inserts only.
        packed = [pack_words(it.reading.words) for it in items]
        with self.transaction() as conn:
            ids = {path: photo_id for photo_id, path in
                   conn.execute(upsert.returning(_photos.c.id, _photos.c.path), photo_rows)}
            _delete_words_and_text(conn, list(ids.values()))
            photo_ids = [ids[it.path] for it in items]
            # Tuples through exec_driver_sql: one executemany each, no per-row SQLAlchemy processing
            conn.exec_driver_sql(_INSERT_WORDS_SQL, [(photo_id, *p) for photo_id, p in zip(photo_ids, packed)])
            conn.exec_driver_sql(_INSERT_TEXT_SQL, [
                document_row(photo_id, [w.text for w in it.reading.words],
                             [t for w in it.reading.words for t, _ in w.alternates])
                for photo_id, it in zip(photo_ids, items)])
        return ids

    def put_failure(self, path: str, content_hash: str | None, size: int | None, error: str) -> None:
        """Record that a photo could not be read.

        A photo that was indexed before keeps its words (and its old hash, so the next ingest tries
        again): a broken copy of a photo must not erase what was found on it.
        """
        now = _now()
        with self.transaction() as conn:
            existing = conn.execute(select(_photos.c.id, _photos.c.status).where(_photos.c.path == path)).first()
            if existing is not None and existing.status == PHOTO_STATUS_INDEXED:
                conn.execute(update(_photos).where(_photos.c.id == existing.id).values(error=error, updated_at=now))
                return
            values = {"content_hash": content_hash, "size": size, "mtime_ns": None, "width": None, "height": None,
                      "status": PHOTO_STATUS_FAILED, "error": error, "model_version": None, "updated_at": now}
            if existing is None:
                conn.execute(_photos.insert().values(path=path, created_at=now, **values))
            else:
                conn.execute(update(_photos).where(_photos.c.id == existing.id).values(**values))

    def remove(self, paths: Iterable[str]) -> list[str]:
        """Delete photos (and their words); returns the paths that were stored."""
        removed: list[str] = []
        with self.transaction() as conn:
            for chunk in _chunks(list(paths), _SQL_CHUNK):
                rows = conn.execute(select(_photos.c.id, _photos.c.path).where(_photos.c.path.in_(chunk))).all()
                ids = [row.id for row in rows]
                if ids:
                    _delete_words_and_text(conn, ids)
                    conn.execute(delete(_photos).where(_photos.c.id.in_(ids)))
                removed.extend(row.path for row in rows)
        return removed


    def rebuild_index(self) -> int:
        """Refill the full-text index from the stored words in one transaction; returns its row count.

        Readers see the old index until the commit. Needed only if the index was damaged by hand
        or its tokenization changed: ordinary writes keep it in step with the store.
        """
        with self.transaction() as conn:
            conn.exec_driver_sql(f"DELETE FROM {FTS_TABLE}")
            rows = conn.exec_driver_sql(
                "SELECT p.id, w.texts, w.alternates FROM photos p LEFT JOIN photo_words w ON w.photo_id = p.id "
                "WHERE p.status = ?", (PHOTO_STATUS_INDEXED,)).all()
            documents = [document_row(photo_id, *(unpack_texts(texts, alternates) if texts is not None else ([], [])))
                         for photo_id, texts, alternates in rows]
            if documents:
                conn.exec_driver_sql(_INSERT_TEXT_SQL, documents)
        return len(documents)


def _delete_words_and_text(conn: Connection, photo_ids: list[int]) -> None:
    for chunk in _chunks(photo_ids, _SQL_CHUNK):
        marks = ",".join("?" * len(chunk))
        conn.exec_driver_sql(f"DELETE FROM photo_words WHERE photo_id IN ({marks})", tuple(chunk))
        conn.exec_driver_sql(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})", tuple(chunk))


def _current_revision(conn: Connection) -> str | None:
    has_table = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'")).first()
    if not has_table:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

"""Ingest: photo files -> store -> index, incremental, resumable and safe against a second process.

Each photo is written in one transaction: the photo, its words and its full-text index row. A crash
leaves each photo either fully stored and indexed or not there at all, and the next ingest reads
the photos that are not there, so every photo ends up indexed exactly once. One writer at a time:
DIR/ingest.lock is held for the whole run.

A photo already indexed is unchanged when its file has the size and modification time it was read
with (as rsync and git tell, without reading the file), or else the same content hash. A file
rewritten with other content but the same size and modification time would be missed:
`ingest --force` reads everything again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from ocrsearch.config import DbLayout, IngestConfig
from ocrsearch.imageio import file_sha256, is_candidate
from ocrsearch.pipeline import PhotoResult, ReaderFactory, ReaderPool, auto_workers, read_photo_files

# The store (SQLAlchemy, alembic: ~0.4 s to import) is imported where it is used, after a new
# database's reader processes have started (see ingest).
if TYPE_CHECKING:
    from ocrsearch.store import Store


class DatabaseBusy(Exception):
    """Another process holds the database's write lock."""


@dataclass
class IngestReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    pruned: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [f"indexed {len(self.indexed)}", f"unchanged {len(self.unchanged)}", f"failed {len(self.failed)}"]
        if self.pruned:
            parts.append(f"pruned {len(self.pruned)}")
        return ", ".join(parts) + f" ({self.seconds:.1f} s)"


@contextmanager
def write_lock(layout: DbLayout, timeout_s: float) -> Iterator[None]:
    """Hold DIR/ingest.lock; wait up to `timeout_s` for another writer, then raise DatabaseBusy."""
    layout.root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(layout.lock_path))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout:
        raise DatabaseBusy(f"{layout.root}: another ocrsearch process is writing to this database "
                           f"(waited {timeout_s:g} s for {layout.lock_path.name}); try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()


def canonical_path(path: str | Path) -> str:
    """Photos are keyed by their absolute, symlink-free path."""
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def collect_photos(paths: Sequence[str | Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """Files named, and image files found in folders named (recursively; hidden entries skipped).

    Named files are always tried, whatever their suffix; in folders only image suffixes count, so
    sidecar files and notes next to the photos are not reported as failures.
    """
    found: dict[str, None] = {}
    missing: list[tuple[str, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and is_candidate(Path(name)):
                        found.setdefault(canonical_path(Path(root) / name))
        elif path.exists():
            found.setdefault(canonical_path(path))
        else:
            missing.append((str(given), "no such file or folder"))
    return list(found), missing


ProgressCallback = Callable[[PhotoResult], None]


def ingest(paths: Sequence[str | Path], layout: DbLayout, make_reader: ReaderFactory, *,
           config: IngestConfig = IngestConfig(), prune: bool = False, force: bool = False,
           on_start: Callable[[int], None] | None = None, on_photo: ProgressCallback | None = None) -> IngestReport:
    """Read new and changed photos into the store and the index; see the module docstring.

    `force`: read every photo found again, unchanged ones too (their words were read by older models,
    or with other reading options); each photo's new words replace its old ones."""
    started = time.perf_counter()
    report = IngestReport()
    files, missing = collect_photos(paths)
    report.failed.extend(missing)
    with write_lock(layout, config.lock_timeout_s), ExitStack() as stack:
        pool = None
        workers = auto_workers(len(files), config)
        if workers > 1 and (force or not layout.sqlite_path.exists()):
            # Every photo found is to be read (a new database, or forced), so the reader processes
            # start now and load their models while this one imports the store and creates the
            # database (~0.5 s of a run that would otherwise wait for both in turn).
            pool = stack.enter_context(ReaderPool(make_reader, min(workers, len(files))))
        from ocrsearch.models import PHOTO_STATUS_INDEXED
        from ocrsearch.store import PhotoInput, Store

        store = stack.enter_context(Store(layout.sqlite_path))
        states = store.states()
        todo: list[str] = []
        restamps: dict[str, tuple[int, int]] = {}
        for path in files:
            state = states.get(path)
            if force or state is None or state.status != PHOTO_STATUS_INDEXED:
                todo.append(path)  # new or failed before: hashed once, by the reader, from the bytes it decodes
                continue
            try:
                stat = os.stat(path)
                # The size and modification time it was read with: unchanged without reading it
                # (hashing a library of 12 MP photos reads every byte: ~2 ms a photo on this machine)
                if (stat.st_size, stat.st_mtime_ns) == (state.size, state.mtime_ns):
                    report.unchanged.append(path)
                    continue
                digest = file_sha256(Path(path))
            except OSError as e:
                report.failed.append((path, f"cannot read file: {e.strerror or e}"))
                continue
            if digest == state.content_hash:
                report.unchanged.append(path)
                restamps[path] = (stat.st_size, stat.st_mtime_ns)
            else:
                todo.append(path)
        store.restamp(restamps)

        if on_start is not None:
            on_start(len(todo))
        for result in read_photo_files(todo, make_reader, auto_workers(len(todo), config), pool=pool):
            if result.reading is not None and result.sha256 is not None:
                store.put_reading(PhotoInput(result.path, result.sha256, result.size or 0, result.reading,
                                             result.model_version, result.mtime_ns))
                report.indexed.append(result.path)
            else:
                reason = result.error or "unknown error"
                store.put_failure(result.path, result.sha256, result.size, reason)
                report.failed.append((result.path, reason))
            if on_photo is not None:
                on_photo(result)

        if prune:
            report.pruned = _prune(store, paths)
    report.seconds = time.perf_counter() - started
    return report


def _prune(store: Store, paths: Sequence[str | Path]) -> list[str]:
    """Forget photos under the given folders (or named files) whose files are gone."""
    candidates: set[str] = set()
    for given in paths:
        path = canonical_path(given)
        if os.path.isdir(path):
            candidates.update(store.paths_under(path))
        else:
            candidates.add(path)
    gone = sorted(p for p in candidates if not os.path.exists(p))
    return store.remove(gone)


def remove_photos(paths: Sequence[str | Path], layout: DbLayout, config: IngestConfig = IngestConfig()) -> tuple[list[str], list[str]]:
    """Forget photos (a folder means every photo under it). Returns (removed, not found)."""
    from ocrsearch.store import Store

    with write_lock(layout, config.lock_timeout_s), Store(layout.sqlite_path, create=False) as store:
        removed: list[str] = []
        not_found: list[str] = []
        for given in paths:
            path = canonical_path(given)
            # the photo, or every photo under it as a folder (which may no longer exist on disk)
            gone = store.remove([path, *store.paths_under(path)])
            if gone:
                removed.extend(gone)
            else:
                not_found.append(str(given))
        return removed, not_found


def reindex(layout: DbLayout, config: IngestConfig = IngestConfig()) -> int:
    """Rebuild the whole index from the store; returns the number of photos indexed."""
    from ocrsearch.store import Store

    with write_lock(layout, config.lock_timeout_s), Store(layout.sqlite_path, create=False) as store:
        return store.rebuild_index()

"""The Whoosh index: one document per photo, derived from the store and rebuildable from it.

Fields: `path` (unique id), `content_hash` (to tell stale documents), `text` (tokens of the 1-best
words, with positions for phrase queries) and `alt` (tokens of alternate readings, ranked lower by
the searcher). Text is analysed here, once, by `tokenize`; queries use the same function, so the
index and the queries always agree on what a token is.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.fields import ID, TEXT, Schema
from whoosh.scoring import WeightingModel
from whoosh.searching import Searcher
from whoosh.system import pack_uint
from whoosh.writing import CLEAR, IndexWriter

from ocrsearch.types import PageReading

if TYPE_CHECKING:
    from ocrsearch.store import Store

INDEX_SCHEMA_VERSION = 1
VERSION_FILE = "ocrsearch-index.json"
INDEX_NAME = "photos"

# A token is a run of letters/digits, with inner apostrophes kept ("don't"); case is folded.
TOKEN_PATTERN = r"\w+(?:['’]\w+)*"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    return [token.casefold() for token in _TOKEN_RE.findall(text)]


class IndexOutdated(Exception):
    """The index on disk was built with another schema version and must be rebuilt from the store."""


class _TokenField(TEXT):
    """A TEXT field fed with a list of tokens from `tokenize`.

    Whoosh's analyzer chain builds a Token object per word; doing the counting here instead makes
    indexing about a third faster, which matters for `reindex` over tens of thousands of photos.
    """

    def index(self, value: Any, **kwargs: Any):
        if isinstance(value, str):  # plain text from a caller that did not tokenize
            value = tokenize(value)
        positions: dict[str, list[int]] = defaultdict(list)
        for position, token in enumerate(value):
            positions[token].append(position)
        if self.format.__class__.__name__ == "Positions":
            encode = self.format.encode
            for token, where in positions.items():
                yield token.encode("utf-8"), len(where), float(len(where)), encode(where)
        else:
            for token, where in positions.items():
                yield token.encode("utf-8"), len(where), float(len(where)), pack_uint(len(where))


def make_schema() -> Schema:
    analyzer = RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter()
    return Schema(
        path=ID(stored=True, unique=True),
        content_hash=ID(stored=True),
        text=_TokenField(analyzer=analyzer, phrase=True),
        alt=_TokenField(analyzer=analyzer, phrase=False),
    )


@dataclass(frozen=True)
class IndexDoc:
    path: str
    content_hash: str
    words: Sequence[str]  # 1-best texts, in reading order
    alternates: Sequence[str] = ()

    @classmethod
    def from_reading(cls, path: str, content_hash: str, reading: PageReading) -> IndexDoc:
        return cls(path, content_hash, [w.text for w in reading.words],
                   [alt for w in reading.words for alt, _ in w.alternates])

    def fields(self) -> dict[str, Any]:
        # One pass over the words joined by spaces gives the same tokens as one pass per word (a
        # token never spans a space) at a fraction of the calls
        text = tokenize(" ".join(self.words))
        # An alternate token already among the photo's 1-best tokens adds nothing a search could
        # find, yet it was about half of all postings: keep each other alternate token once.
        best = set(text)
        alternates = [t for t in dict.fromkeys(tokenize(" ".join(self.alternates))) if t not in best]
        return {"path": self.path, "content_hash": self.content_hash, "text": text, "alt": alternates}


class IndexWriteBatch:
    """Changes made through one Whoosh writer; see `Index.batch`."""

    def __init__(self, writer: IndexWriter):
        self._writer = writer
        self.count = 0

    def put(self, doc: IndexDoc) -> None:
        """Add or replace the document of `doc.path` (never a duplicate)."""
        self._writer.update_document(**doc.fields())
        self.count += 1

    def add_new(self, doc: IndexDoc) -> None:
        """Add a document whose path is known not to be in the index (skips the delete lookup)."""
        self._writer.add_document(**doc.fields())
        self.count += 1

    def delete(self, path: str) -> None:
        self._writer.delete_by_term("path", path)


class Index:
    """Whoosh index with an explicit lifecycle: `open()`, `batch()` / `search`, `close()`."""

    def __init__(self, directory: Path, *, writer_limit_mb: int = 256, lock_timeout_s: float = 10.0):
        self.directory = Path(directory)
        self.writer_limit_mb = writer_limit_mb
        self.lock_timeout_s = lock_timeout_s
        self.needs_rebuild = False
        self._ix: whoosh_index.Index | None = None
        self._searcher: Searcher | None = None
        self._weighting: WeightingModel | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self, *, create: bool = True) -> Index:
        """Open the index; with create=True make it, or remake it empty when its schema is outdated.

        A remade index sets `needs_rebuild`: the caller refills it from the store (`rebuild`).
        Without create, a missing or outdated index raises IndexOutdated.
        """
        if self._ix is not None:
            return self
        exists = whoosh_index.exists_in(str(self.directory), indexname=INDEX_NAME)
        current = exists and self._stored_version() == INDEX_SCHEMA_VERSION
        if current:
            self._ix = whoosh_index.open_dir(str(self.directory), indexname=INDEX_NAME)
            return self
        if not create:
            what = "was built by another version of ocrsearch" if exists else "is missing"
            raise IndexOutdated(f"{self.directory}: the search index {what}; run `ocrsearch reindex`")
        self._create()
        self.needs_rebuild = exists
        return self

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        if self._ix is not None:
            self._ix.close()
            self._ix = None

    def __enter__(self) -> Index:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def whoosh(self) -> whoosh_index.Index:
        if self._ix is None:
            raise RuntimeError("index is not open")
        return self._ix

    def _create(self) -> None:
        if self.directory.exists():
            ours = (self.directory / VERSION_FILE).exists() or any(self.directory.glob(f"_{INDEX_NAME}_*"))
            if any(self.directory.iterdir()) and not ours:
                raise IndexOutdated(f"{self.directory} exists and is not an ocrsearch index; "
                                    f"refusing to replace it (choose another --db folder)")
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        self._ix = whoosh_index.create_in(str(self.directory), make_schema(), indexname=INDEX_NAME)
        (self.directory / VERSION_FILE).write_text(json.dumps({"schema_version": INDEX_SCHEMA_VERSION}) + "\n")

    def _stored_version(self) -> int | None:
        try:
            return int(json.loads((self.directory / VERSION_FILE).read_text())["schema_version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # -- writing --------------------------------------------------------------------------------

    @contextmanager
    def batch(self, *, clear: bool = False) -> Iterator[IndexWriteBatch]:
        """One Whoosh writer: committed when the block ends, cancelled if it raises.

        With clear=True the commit replaces the whole index at once, so searchers see the old
        documents until the new ones are complete.
        """
        writer = self.whoosh.writer(limitmb=self.writer_limit_mb, timeout=self.lock_timeout_s, delay=0.1)
        try:
            yield IndexWriteBatch(writer)
        except BaseException:
            writer.cancel()
            raise
        if clear:
            writer.commit(mergetype=CLEAR)
        else:
            writer.commit()

    def put(self, doc: IndexDoc) -> None:
        with self.batch() as batch:
            batch.put(doc)

    def add_many(self, docs: Iterable[IndexDoc], *, new: bool = False) -> int:
        """Add documents through one writer; new=True when none of the paths can be in the index yet."""
        with self.batch() as batch:
            for doc in docs:
                batch.add_new(doc) if new else batch.put(doc)
        return batch.count

    def remove(self, paths: Iterable[str]) -> None:
        with self.batch() as batch:
            for path in paths:
                batch.delete(path)

    def rebuild(self, store: Store) -> int:
        """Replace every document with what the store holds; returns the number of documents."""
        with self.batch(clear=True) as batch:
            for texts in store.iter_photo_texts():
                for t in texts:
                    batch.add_new(IndexDoc(t.path, t.content_hash, t.words, t.alternates))
        self.needs_rebuild = False
        return batch.count

    def reconcile(self, store: Store) -> tuple[int, int]:
        """Make the index agree with the store after a crash between the two writes.

        Returns (documents added or refreshed, documents deleted).
        """
        stored = store.indexed_hashes()
        indexed = self.hashes()
        stale = [path for path, content_hash in stored.items() if indexed.get(path) != content_hash]
        orphans = [path for path in indexed if path not in stored]
        if not stale and not orphans:
            return 0, 0
        with self.batch() as batch:
            for path in orphans:
                batch.delete(path)
            for texts in store.iter_photo_texts(stale):
                for t in texts:
                    batch.put(IndexDoc(t.path, t.content_hash, t.words, t.alternates))
        return len(stale), len(orphans)

    # -- reading --------------------------------------------------------------------------------

    def searcher(self, weighting: WeightingModel | None = None) -> Searcher:
        """A searcher kept open between queries and refreshed when the index has changed."""
        if self._searcher is not None and weighting is self._weighting:
            self._searcher = self._searcher.refresh()
            return self._searcher
        if self._searcher is not None:
            self._searcher.close()
        kwargs = {"weighting": weighting} if weighting is not None else {}
        self._searcher = self.whoosh.searcher(**kwargs)
        self._weighting = weighting
        return self._searcher

    def hashes(self) -> dict[str, str]:
        """path -> content hash of every document."""
        with self.whoosh.searcher() as s:
            return {fields["path"]: fields.get("content_hash", "") for fields in s.all_stored_fields()}

    def doc_count(self) -> int:
        return self.whoosh.doc_count()

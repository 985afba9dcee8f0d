"""The full-text index: an SQLite FTS5 table in the store's own database file.

One row of `photo_text` per indexed photo, its rowid the photo's id, with two columns: `text`
(tokens of the 1-best words, in reading order, for phrase queries) and `alt` (tokens of alternate
readings, ranked lower by the searcher). The store writes it in the same transaction as the photo's
words, so the index can never disagree with the store, not even after a crash; `Store.rebuild_index`
refills it from the stored words.

Why not Whoosh (used before): it builds postings in Python, about 20 microseconds per word of a
photo, which capped indexing near 250 photos/s; FTS5 does the same in C (bench/index_throughput.py).

Text is tokenized here, once, by `tokenize`; queries use the same function, and the table's
tokenizer only splits on spaces (it keeps letters, digits, `_` and apostrophes together, and folds
case as `tokenize` already did), so the index and the queries agree on what a token is.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from ocrsearch.words import open_reader

FTS_TABLE = "photo_text"
VOCAB_TABLE = "photo_text_vocab"  # fts5vocab 'col': (term, col, doc, cnt), for fuzzy matching
# remove_diacritics 0: "résumé" and "resume" stay two words, as the recognizer read them. Marks
# (M*) are token characters because casefold() makes some ("İ" -> "i" + U+0307).
FTS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N* Co M*' tokenchars '''\u2019_'"

# A token is a run of letters/digits, with inner apostrophes kept ("don't"); case is folded.
TOKEN_PATTERN = r"\w+(?:['’]\w+)*"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    # Tokens are cut first and folded after ("İ" folds to "i" + a combining mark, which the
    # pattern would cut at); one casefold() of them all, joined by spaces, folds as one per token
    # would (folding never makes a space) at a fraction of the calls
    tokens = _TOKEN_RE.findall(text)
    return " ".join(tokens).casefold().split(" ") if tokens else []


_APOSTROPHE_RE = re.compile(r"['’]")


def apostrophe_parts(tokens: Iterable[str]) -> list[str]:
    """The parts of apostrophe tokens, two characters or longer ("boston's" -> "boston", "o'neil" ->
    "neil"): a search for "boston" should find "Boston's" ("don't" still finds only "don't")."""
    return [part for t in tokens if "'" in t or "’" in t for part in _APOSTROPHE_RE.split(t) if len(part) >= 2]


def document_tokens(words: Sequence[str], alternates: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Tokens of a photo's `text` and `alt` columns."""
    # One pass over the words joined by spaces gives the same tokens as one pass per word (a
    # token never spans a space) at a fraction of the calls
    text = tokenize(" ".join(words))
    best = set(text)
    # Parts of apostrophe tokens go after the words, so that phrases over the words stay adjacent
    text += [t for t in dict.fromkeys(apostrophe_parts(text)) if t not in best]
    best.update(text)
    # An alternate token already among the photo's 1-best tokens adds nothing a search could
    # find, yet it was about half of all postings: keep each other alternate token once.
    alt_tokens = tokenize(" ".join(alternates))
    alt = [t for t in dict.fromkeys(alt_tokens + apostrophe_parts(alt_tokens)) if t not in best]
    return text, alt


def document_row(photo_id: int, words: Sequence[str], alternates: Sequence[str] = ()) -> tuple[int, str, str]:
    """(rowid, text, alt) of a photo's `photo_text` row."""
    text, alt = document_tokens(words, alternates)
    return photo_id, " ".join(text), " ".join(alt)


def fts_string(token: str) -> str:
    """A token as an FTS5 string: user text reaches FTS5 only this way, never as query syntax."""
    return '"' + token.replace('"', '""') + '"'


class Index:
    """Read side of the index (plain sqlite3, no SQLAlchemy: a cold CLI search pays for imports).

    Lifecycle: `open()`, `match` / `terms` / ..., `close()`. Writes go through the Store.
    """

    def __init__(self, sqlite_path: Path):
        self.sqlite_path = Path(sqlite_path)
        self._connection: sqlite3.Connection | None = None

    def open(self) -> Index:
        """Open the database's index; SchemaMismatch when the database needs a migration first."""
        if self._connection is None:
            self._connection = open_reader(self.sqlite_path)
        return self

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Index:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("index is not open")
        return self._connection

    def generation(self) -> int:
        """A number that changes whenever another connection (the store) has committed a change."""
        return self.connection.execute("PRAGMA data_version").fetchone()[0]

    def match(self, expression: str, limit: int | None = None) -> list[tuple[str, float]]:
        """(path, BM25 score > 0) of the photos matching an FTS5 expression, best first."""
        sql = (f"SELECT p.path, -bm25({FTS_TABLE}) FROM {FTS_TABLE} JOIN photos p ON p.id = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH ? ORDER BY rank")
        if limit is not None:
            return self.connection.execute(sql + " LIMIT ?", (expression, limit)).fetchall()
        return self.connection.execute(sql, (expression,)).fetchall()

    def any_match(self, expression: str) -> bool:
        return self.connection.execute(f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT 1",
                                       (expression,)).fetchone() is not None

    def terms(self, prefix: str = "", column: str = "text") -> dict[str, int]:
        """term -> number of photos with it in `column`, for the terms starting with `prefix`."""
        sql = f"SELECT term, doc FROM {VOCAB_TABLE} WHERE col = ?"
        if not prefix:
            return dict(self.connection.execute(sql, (column,)))
        # every term starting with the prefix sorts between it and the prefix + the last code point
        return dict(self.connection.execute(sql + " AND term >= ? AND term < ?", (column, prefix, prefix + "\U0010ffff")))

    def doc_frequencies(self, terms: Iterable[str], column: str = "text") -> dict[str, int]:
        """term -> number of photos with it in `column`, for those of the terms that are indexed."""
        found = {}
        for term in terms:
            row = self.connection.execute(f"SELECT doc FROM {VOCAB_TABLE} WHERE col = ? AND term = ?",
                                          (column, term)).fetchone()
            if row is not None:
                found[term] = row[0]
        return found

    def doc_count(self) -> int:
        return self.connection.execute(f"SELECT count(*) FROM {FTS_TABLE}").fetchone()[0]

    def hashes(self) -> dict[str, str]:
        """path -> content hash of every indexed photo."""
        return dict(self.connection.execute(f"SELECT p.path, coalesce(p.content_hash, '') FROM {FTS_TABLE} "
                                            f"JOIN photos p ON p.id = {FTS_TABLE}.rowid"))

"""Queries: user text -> clauses -> a Whoosh query -> ranked photos -> matched words from the store.

User text never reaches Whoosh's query parser. It is cut into clauses here (words, `prefix*`,
`"quoted phrases"`), each clause becomes a Whoosh query built from tokens, so quotes, colons,
brackets, wildcards or 10,000 characters of noise can only ever produce fewer clauses, never a
syntax error.

Ranking (see SearchConfig): each clause scores in a band, exact > fuzzy > alternate reading, and
the clause scores add up, so photos that match more of the query come first. Inside a band BM25
breaks ties.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from whoosh import query as wq
from whoosh.matching import NullMatcher, ReadTooFar, UnionMatcher
from whoosh.scoring import BM25F, BM25FScorer

from ocrsearch.config import SearchConfig
from ocrsearch.index import Index, tokenize
from ocrsearch.words import StoredWord

ClauseKind = Literal["term", "prefix", "phrase"]
MatchKind = Literal["exact", "fuzzy", "prefix", "phrase", "alternate"]
MAX_FUZZY_TOKEN_CHARS = 40  # no real word is longer; a Levenshtein automaton for a 1000-char token is slow
MAX_MATCHES_PER_PHOTO = 50


@dataclass(frozen=True)
class Clause:
    kind: ClauseKind
    tokens: tuple[str, ...]

    @property
    def label(self) -> str:
        if self.kind == "phrase":
            return '"' + " ".join(self.tokens) + '"'
        if self.kind == "prefix":
            return self.tokens[0] + "*"
        return self.tokens[0]


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.clauses


def parse_query(text: str, config: SearchConfig = SearchConfig()) -> ParsedQuery:
    """Split user text into clauses: "quoted phrases", prefix* terms, and plain terms."""
    notes: list[str] = []
    if len(text) > config.max_query_chars:
        text = text[:config.max_query_chars]
        notes.append(f"query cut to its first {config.max_query_chars} characters")
    for quote in "“”„«»":
        text = text.replace(quote, '"')
    parts = text.split('"')
    unclosed_last = len(parts) % 2 == 0  # an odd number of quotes: the last one opens nothing
    clauses: list[Clause] = []
    for i, part in enumerate(parts):
        quoted = i % 2 == 1 and not (unclosed_last and i == len(parts) - 1)
        if quoted:
            tokens = tokenize(part)
            if len(tokens) > 1:
                clauses.append(Clause("phrase", tuple(tokens)))
            elif tokens:
                clauses.append(Clause("term", (tokens[0],)))
            continue
        for chunk in part.split():
            tokens = tokenize(chunk)
            if not tokens:
                continue
            is_prefix = chunk.endswith("*") and len(tokens[-1]) >= config.prefix_min_chars
            clauses.extend(Clause("term", (token,)) for token in tokens[:-1])
            clauses.append(Clause("prefix" if is_prefix else "term", (tokens[-1],)))
    unique = list(dict.fromkeys(clauses))
    if len(unique) > config.max_clauses:
        notes.append(f"only the first {config.max_clauses} words of the query are searched")
        unique = unique[:config.max_clauses]
    if not unique:
        notes.append("the query has no words to search for")
    return ParsedQuery(tuple(unique), tuple(notes))


def fuzzy_distance(token: str, config: SearchConfig) -> int:
    letters = sum(ch.isalpha() for ch in token)
    if len(token) > MAX_FUZZY_TOKEN_CHARS:
        return 0
    if letters >= config.fuzzy_min_letters_2:
        return 2
    if letters >= config.fuzzy_min_letters_1:
        return 1
    return 0


class TieredBM25(BM25F):
    """BM25 squashed into [1, 1 + tie_break): the query boost sets the band, BM25 the order inside it."""

    def __init__(self, tie_break: float):
        super().__init__()
        self.tie_break = tie_break

    def scorer(self, searcher, fieldname, text, qf=1):
        return _TieredScorer(searcher, fieldname, text, self.B, self.K1, qf, self.tie_break)


class _TieredScorer(BM25FScorer):
    def __init__(self, searcher, fieldname, text, B, K1, qf, tie_break):
        self.tie_break = tie_break  # set first: the base initializer calls _score
        super().__init__(searcher, fieldname, text, B, K1, qf=qf)

    def _score(self, weight, length):
        bm25 = super()._score(weight, length)
        return 1.0 + self.tie_break * bm25 / (bm25 + 1.0)


class BestOf(wq.CompoundQuery):
    """Matches what any subquery matches and scores a document with its best subquery.

    Whoosh has DisjunctionMax for this, but its matcher takes the max over sub-matchers that sit
    on other documents, so a photo could take the score of another photo's exact match.
    """

    JOINT = " | "

    def _matcher(self, subs, searcher, context):
        return self._tree_matcher(subs, _BestOfMatcher, searcher, context, None)


class _BestOfMatcher(UnionMatcher):
    """Union of two matchers scoring each document with the better of the two.

    Supports Whoosh's block-quality skipping: with max instead of sum, a sub-matcher whose best
    possible score cannot reach the top N can be dropped or skipped on its own.
    """

    def copy(self):
        return self.__class__(self.a.copy(), self.b.copy())

    def _active(self):
        return [m for m in (self.a, self.b) if m.is_active()]

    def max_quality(self):
        return max((m.max_quality() for m in self._active()), default=0.0)

    def block_quality(self):
        return max((m.block_quality() for m in self._active()), default=0.0)

    def replace(self, minquality=0):
        a, b = self.a, self.b
        if minquality:  # a side that can never reach minquality cannot lift any document into the top N
            a = a if a.is_active() and a.max_quality() >= minquality else NullMatcher()
            b = b if b.is_active() and b.max_quality() >= minquality else NullMatcher()
        if not (a.is_active() or b.is_active()):
            return NullMatcher()
        if not a.is_active():
            return b.replace(minquality)
        if not b.is_active():
            return a.replace(minquality)
        a, b = a.replace(minquality), b.replace(minquality)
        if not (a.is_active() and b.is_active()):
            return a if a.is_active() else b
        if a is self.a and b is self.b:
            self._id = None
            return self
        return self.__class__(a, b)

    def skip_to_quality(self, minquality):
        self._id = None
        if not self.is_active():
            raise ReadTooFar
        skipped = 0
        for m in (self.a, self.b):
            if m.is_active() and m.block_quality() <= minquality:
                skipped += m.skip_to_quality(minquality)
        return skipped

    def _current(self):
        a, b = self.a, self.b
        if not a.is_active():
            return [b]
        if not b.is_active():
            return [a]
        a_id, b_id = a.id(), b.id()
        if a_id == b_id:
            return [a, b]
        return [a] if a_id < b_id else [b]

    def score(self):
        return max(m.score() for m in self._current())

    def weight(self):
        return max(m.weight() for m in self._current())


class FuzzyLexicon:
    """Fuzzy variants of query tokens among the indexed 1-best tokens.

    Whoosh's terms_within computes edit distances in Python, one term at a time, for every term
    sharing the prefix (~30 ms over a 50,000-word vocabulary); here the terms of a prefix are read
    once per index generation and compared in C by rapidfuzz.
    """

    def __init__(self, reader, config: SearchConfig):
        self.reader = reader
        self.config = config
        self._terms_by_prefix: dict[str, list[str]] = {}

    def _terms(self, prefix: str) -> list[str]:
        terms = self._terms_by_prefix.get(prefix)
        if terms is None:
            terms = [t.decode("utf-8") if isinstance(t, bytes) else t for t in self.reader.expand_prefix("text", prefix)]
            self._terms_by_prefix[prefix] = terms
        return terms

    def load_all(self) -> None:
        """Read the whole vocabulary now (one pass), so that no later query pays for its prefix."""
        by_prefix: dict[str, set[str]] = {}
        n = self.config.fuzzy_prefix
        for leaf, _ in self.reader.leaf_readers():
            for term in leaf.lexicon("text"):
                term = term.decode("utf-8") if isinstance(term, bytes) else term
                by_prefix.setdefault(term[:n], set()).add(term)
        self._terms_by_prefix = {prefix: sorted(terms) for prefix, terms in by_prefix.items()}

    def variants(self, token: str, maxdist: int) -> list[str]:
        """Indexed tokens within `maxdist` edits of `token` (the token itself excluded)."""
        candidates = self._terms(token[:self.config.fuzzy_prefix])
        found = process.extract(token, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=maxdist,
                                limit=None)
        variants = sorted((distance, term) for term, distance, _ in found if term != token)
        if len(variants) > self.config.max_fuzzy_variants:
            variants.sort(key=lambda dv: (dv[0], -self.reader.doc_frequency("text", dv[1]), dv[1]))
            variants = variants[:self.config.max_fuzzy_variants]
        return sorted(term for _, term in variants)


def prefix_expansions(reader, fieldname: str, prefix: str, config: SearchConfig) -> list[str]:
    """Indexed tokens that start with `prefix`; the most frequent ones when there are too many."""
    terms = [t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.expand_prefix(fieldname, prefix)]
    if len(terms) > config.max_prefix_expansions:
        terms.sort(key=lambda t: (-reader.doc_frequency(fieldname, t), t))
        terms = terms[:config.max_prefix_expansions]
    return terms


def build_whoosh_query(parsed: ParsedQuery, reader, config: SearchConfig, lexicon: FuzzyLexicon | None = None) -> wq.Query:
    exact, fuzzy, alternate = config.exact_points, config.fuzzy_points, config.alternate_points
    lexicon = lexicon or FuzzyLexicon(reader, config)
    subqueries: list[wq.Query] = []
    for clause in parsed.clauses:
        if clause.kind == "term":
            token = clause.tokens[0]
            options: list[wq.Query] = [wq.Term("text", token, boost=exact), wq.Term("alt", token, boost=alternate)]
            maxdist = fuzzy_distance(token, config)
            if maxdist:
                options += [wq.Term("text", v, boost=fuzzy) for v in lexicon.variants(token, maxdist)]
            subqueries.append(BestOf(options))
        elif clause.kind == "prefix":
            prefix = clause.tokens[0]
            options = [wq.Term("text", t, boost=exact) for t in prefix_expansions(reader, "text", prefix, config)]
            options += [wq.Term("alt", t, boost=alternate) for t in prefix_expansions(reader, "alt", prefix, config)]
            subqueries.append(BestOf(options) if options else wq.NullQuery)
        else:
            # a phrase scores the sum of its words' scores; divide so that it counts as one clause
            subqueries.append(wq.Phrase("text", list(clause.tokens), boost=exact / len(clause.tokens)))
    if len(subqueries) == 1:
        return subqueries[0]
    return wq.Or(subqueries)


# ----------------------------------------------------------------------------------------------
# Which words of a photo matched
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordMatch:
    text: str  # what the recognizer read (1-best)
    box: tuple[int, int, int, int]
    confidence: float
    quad: list[list[float]]
    clause: str  # the query clause it matched
    kind: MatchKind
    via: str | None = None  # the alternate reading that matched, for kind == "alternate"

    def to_json(self) -> dict:
        return {"text": self.text, "box": list(self.box), "confidence": round(float(self.confidence), 4)}


@dataclass(frozen=True)
class SearchHit:
    photo: str
    score: float
    matches: list[WordMatch] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"photo": self.photo, "score": round(float(self.score), 4), "matches": [m.to_json() for m in self.matches]}


@dataclass(frozen=True)
class SearchResult:
    query: ParsedQuery
    hits: list[SearchHit]

    @property
    def notes(self) -> tuple[str, ...]:
        return self.query.notes


def _close(token: str, candidate: str, maxdist: int, prefix: int) -> bool:
    if candidate[:prefix] != token[:prefix]:
        return False
    return DamerauLevenshtein.distance(token, candidate, score_cutoff=maxdist) <= maxdist


def find_matches(parsed: ParsedQuery, words: Sequence[StoredWord], config: SearchConfig = SearchConfig()) -> list[WordMatch]:
    """The words of one photo that match the query, each with how it matched (best kind per clause)."""
    word_tokens = [tokenize(w.text) for w in words]
    alt_tokens = [[(alt, tokenize(alt)) for alt, _ in w.alternates] if w.has_alternates else [] for w in words]
    found: dict[int, WordMatch] = {}

    def report(i: int, clause: Clause, kind: MatchKind, via: str | None = None) -> None:
        if i not in found:
            w = words[i]
            found[i] = WordMatch(w.text, tuple(w.box), w.confidence, w.quad, clause.label, kind, via)

    for clause in parsed.clauses:
        if clause.kind == "phrase":
            for i in _phrase_word_indices(clause.tokens, word_tokens):
                report(i, clause, "phrase")
            continue
        token = clause.tokens[0]
        if clause.kind == "prefix":
            direct = [i for i, toks in enumerate(word_tokens) if any(t.startswith(token) for t in toks)]
            kind: MatchKind = "prefix"
            alt_test = lambda toks: any(t.startswith(token) for t in toks)  # noqa: E731
        else:
            direct = [i for i, toks in enumerate(word_tokens) if token in toks]
            kind = "exact"
            maxdist = fuzzy_distance(token, config)
            if not direct and maxdist:
                direct = [i for i, toks in enumerate(word_tokens)
                          if any(_close(token, t, maxdist, config.fuzzy_prefix) for t in toks)]
                kind = "fuzzy"
            alt_test = lambda toks: token in toks  # noqa: E731
        if direct:
            for i in direct:
                report(i, clause, kind)
            continue
        for i, alts in enumerate(alt_tokens):
            hit = next((alt for alt, toks in alts if alt_test(toks)), None)
            if hit is not None:
                report(i, clause, "alternate", hit)
    return [found[i] for i in sorted(found)][:MAX_MATCHES_PER_PHOTO]


def _phrase_word_indices(phrase: tuple[str, ...], word_tokens: list[list[str]]) -> list[int]:
    stream = [(token, i) for i, toks in enumerate(word_tokens) for token in toks]
    n = len(phrase)
    hits: list[int] = []
    for start in range(len(stream) - n + 1):
        if all(stream[start + k][0] == phrase[k] for k in range(n)):
            hits.extend(i for _, i in stream[start:start + n])
    return sorted(set(hits))


class WordSource(Protocol):
    """Where matched words are read from: the Store, or the lighter WordReader of a cold CLI search."""

    def words_by_path(self, paths: Collection[str]) -> dict[str, list[StoredWord]]: ...


class PhotoSearcher:
    """Ranks photos with the index, then reads the matched words and their boxes from the store."""

    def __init__(self, store: WordSource, index: Index, config: SearchConfig = SearchConfig()):
        self.store = store
        self.index = index
        self.config = config
        self._weighting = TieredBM25(config.tie_break)
        self._lexicon: FuzzyLexicon | None = None
        self._lexicon_searcher = None

    def _current_lexicon(self, searcher) -> FuzzyLexicon:
        if self._lexicon is None or self._lexicon_searcher is not searcher:  # new, or the index changed
            self._lexicon = FuzzyLexicon(searcher.reader(), self.config)
            self._lexicon_searcher = searcher
        return self._lexicon

    def warm(self) -> None:
        """Load what queries would otherwise load on first use (the vocabulary for fuzzy matching).

        For long-running processes; a one-off CLI search is faster without it, since it only needs
        the words that share its query's first letter.
        """
        self._current_lexicon(self.index.searcher(self._weighting)).load_all()

    def search(self, text: str, limit: int | None = None) -> SearchResult:
        parsed = parse_query(text, self.config)
        if parsed.empty:
            return SearchResult(parsed, [])
        limit = limit or self.config.default_limit
        searcher = self.index.searcher(self._weighting)
        whoosh_query = build_whoosh_query(parsed, searcher.reader(), self.config, self._current_lexicon(searcher))
        ranked = [(hit["path"], hit.score) for hit in searcher.search(whoosh_query, limit=limit)]
        words = self.store.words_by_path([path for path, _ in ranked])
        hits = [SearchHit(path, score, find_matches(parsed, words.get(path, []), self.config)) for path, score in ranked]
        return SearchResult(parsed, hits)

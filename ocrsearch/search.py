"""Queries: user text -> clauses -> a Whoosh query -> ranked photos -> matched words from the store.

User text never reaches Whoosh's query parser. It is cut into clauses here (words, `prefix*`,
`"quoted phrases"`), each clause becomes a Whoosh query built from tokens, so quotes, colons,
brackets, wildcards or 10,000 characters of noise can only ever produce fewer clauses, never a
syntax error.

Ranking (see SearchConfig): each clause scores in a band, exact > OCR confusion > fuzzy >
alternate reading, and the clause scores add up, so photos that match more of the query come
first. Inside a band BM25 breaks ties.

Forgiving search. Recognition errors are not random edits: an OCR reads "m" as "rn", "d" as "cl",
"o" as "0". Each query word is expanded into the spellings those confusions give (both ways, at
most one or two per word, see `confusion_variants`); the ones present in the index match in the
confusion band, above arbitrary near spellings, and work for words too short for fuzzy matching
or whose first letter was misread. A phrase matches, in falling bands: exactly; with any of its
words read through a confusion; with one word misread anyhow (the other words in order, with room
for the misread one).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from whoosh import query as wq
from whoosh.matching import NullMatcher, ReadTooFar, UnionMatcher, WrappingMatcher
from whoosh.scoring import BM25F, BM25FScorer
from whoosh.searching import Searcher

from ocrsearch.config import SearchConfig
from ocrsearch.index import Index, tokenize
from ocrsearch.words import StoredWord

ClauseKind = Literal["term", "prefix", "phrase"]
# how a word matched: its clause's word exactly, through an OCR confusion, as a near spelling, as a
# word start, in the phrase (exactly, through confusions, or with one word of the phrase misread),
# or through one of its alternate readings
MatchKind = Literal["exact", "confusion", "fuzzy", "prefix", "phrase", "phrase_confusion", "phrase_misread",
                    "alternate"]
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


@lru_cache(maxsize=8)
def _confusion_rules(pairs: tuple[tuple[str, str], ...]) -> dict[str, tuple[tuple[str, str], ...]]:
    """first character -> (what is read, what it may stand for), both ways round for every pair."""
    rules: dict[str, list[tuple[str, str]]] = {}
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            if (src, dst) not in rules.setdefault(src[0], []):
                rules[src[0]].append((src, dst))
    return {first: tuple(pairs_) for first, pairs_ in rules.items()}


def confusion_variants(token: str, config: SearchConfig) -> list[str]:
    """Spellings of `token` that differ from it only by OCR confusions, fewest confusions first.

    One confusion per word, two from `confusion_2_edits_chars` letters; at most
    `max_confusion_candidates`. Words shorter than `confusion_min_chars` have none.
    """
    if not config.confusions or not config.confusion_min_chars <= len(token) <= MAX_FUZZY_TOKEN_CHARS:
        return []
    rules = _confusion_rules(tuple(config.confusions))
    max_edits = 2 if len(token) >= config.confusion_2_edits_chars else 1
    cap = config.max_confusion_candidates
    seen = {token}
    found: list[str] = []
    frontier = [token]
    for _ in range(max_edits):
        next_frontier: list[str] = []
        for spelling in frontier:
            for i, ch in enumerate(spelling):
                for src, dst in rules.get(ch, ()):
                    if spelling.startswith(src, i):
                        variant = spelling[:i] + dst + spelling[i + len(src):]
                        if variant not in seen:
                            seen.add(variant)
                            found.append(variant)
                            next_frontier.append(variant)
                            if len(found) >= cap:
                                return found
        frontier = next_frontier
    return found


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
        self._all_terms: set[str] | None = None  # the whole vocabulary, once load_all() ran
        self._known: dict[str, bool] = {}  # lookups made without it

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
        self._all_terms = set().union(*by_prefix.values()) if by_prefix else set()

    def existing(self, terms: Iterable[str]) -> list[str]:
        """The given tokens that occur in the 1-best text of some photo, in the given order."""
        if self._all_terms is not None:
            return [t for t in terms if t in self._all_terms]
        found = []
        for term in terms:
            known = self._known.get(term)
            if known is None:
                known = self._known[term] = ("text", term) in self.reader
            if known:
                found.append(term)
        return found

    def confusions(self, token: str) -> list[str]:
        """Indexed tokens that differ from `token` by OCR confusions only, fewest confusions first."""
        return self.existing(confusion_variants(token, self.config))[:self.config.max_confusion_variants]

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


Bands = Literal["all", "exact", "below_exact", "misread"]


def build_whoosh_query(parsed: ParsedQuery, reader, config: SearchConfig, lexicon: FuzzyLexicon | None = None,
                       searcher: Searcher | None = None, bands: Bands = "all") -> wq.Query:
    """The Whoosh query of the parsed clauses.

    bands: "all", or for one-clause queries searched a band at a time (PhotoSearcher.search):
    "exact", everything "below_exact" but a phrase's misread-word band, or that "misread" band
    alone. With "all", a phrase gets its misread-word band only when neither the phrase nor its
    confusions match any photo, which takes the searcher to tell (without one: always).
    """
    exact, confusion = config.exact_points, config.confusion_points
    fuzzy, alternate = config.fuzzy_points, config.alternate_points
    lexicon = lexicon or FuzzyLexicon(reader, config)
    subqueries: list[wq.Query] = []
    for clause in parsed.clauses:
        if clause.kind == "term":
            token = clause.tokens[0]
            options: list[wq.Query] = []
            if bands in ("all", "exact"):
                options.append(wq.Term("text", token, boost=exact))
            if bands in ("all", "below_exact"):
                options.append(wq.Term("alt", token, boost=alternate))
                confused = lexicon.confusions(token)
                options += [wq.Term("text", v, boost=confusion) for v in confused]
                maxdist = fuzzy_distance(token, config) if config.fuzzy else 0
                if maxdist:
                    options += [wq.Term("text", v, boost=fuzzy) for v in lexicon.variants(token, maxdist)
                                if v not in confused]
            subqueries.append(_best_of(options))
        elif clause.kind == "prefix":
            prefix = clause.tokens[0]
            options = [wq.Term("text", t, boost=exact) for t in prefix_expansions(reader, "text", prefix, config)]
            options += [wq.Term("alt", t, boost=alternate) for t in prefix_expansions(reader, "alt", prefix, config)]
            subqueries.append(_best_of(options))
        else:
            subqueries.append(_phrase_query(clause.tokens, lexicon, config, searcher, bands))
    if len(subqueries) == 1:
        return subqueries[0]
    return wq.Or(subqueries)


def _best_of(options: list[wq.Query]) -> wq.Query:
    if not options:
        return wq.NullQuery
    return options[0] if len(options) == 1 else BestOf(options)


def _phrase_query(tokens: tuple[str, ...], lexicon: FuzzyLexicon, config: SearchConfig,
                  searcher: Searcher | None = None, bands: Bands = "all") -> wq.Query:
    """A phrase in three bands: exact; each word exact or through confusions; one word misread
    (see build_whoosh_query for which are included).

    A phrase scores the sum of its words' scores, so each word's boost is the band's points divided
    by the number of words that must match: the phrase counts as one clause.
    """
    n = len(tokens)
    exact = SpanChecked(wq.Phrase("text", list(tokens), boost=config.exact_points / n))
    if bands == "exact" or not config.tolerant_phrases:
        return exact if bands in ("all", "exact") else wq.NullQuery
    confused = [lexicon.confusions(t) for t in tokens]

    def word(i: int, points: float) -> wq.Query:
        return _best_of([wq.Term("text", t, boost=points) for t in (tokens[i], *confused[i])])

    tiers: list[wq.Query] = [exact] if bands == "all" else []
    if bands in ("all", "below_exact") and any(confused):
        tiers.append(_sequence([word(i, config.confusion_points / n) for i in range(n)]))
    if bands == "below_exact" or (bands == "all" and searcher is not None
                                  and any(_matches_any(searcher, tier) for tier in tiers)):
        return _best_of(tiers)
    if n >= 3:
        # one word misread anyhow: the others in order, with room for one word where it was
        points = config.fuzzy_points / (n - 1)
        for k in range(n):
            before = [word(i, points) for i in range(k)]
            after = [word(i, points) for i in range(k + 1, n)]
            if before and after:
                tiers.append(_sequence([_sequence(before), _sequence(after)], slop=2))
            else:
                tiers.append(_sequence(before or after))
    else:
        # two words: the misread one must still be near it (a confusion or a near spelling)
        points = config.fuzzy_points / n
        for k in range(n):
            maxdist = fuzzy_distance(tokens[k], config) if config.fuzzy else 0
            near = lexicon.variants(tokens[k], maxdist) if maxdist else []
            loose = list(dict.fromkeys([*confused[k], *near]))
            if loose:
                misread = _best_of([wq.Term("text", t, boost=points) for t in loose])
                tiers.append(_sequence([word(i, points) if i != k else misread for i in range(n)]))
    return _best_of(tiers)


def _matches_any(searcher: Searcher, query: wq.Query) -> bool:
    """Whether some photo matches (stops at the first one found)."""
    for leaf, _ in searcher.leaf_searchers():
        if query.matcher(leaf, leaf.boolean_context()).is_active():
            return True
    return False


def _sequence(parts: list[wq.Query], slop: int = 1) -> wq.Query:
    return parts[0] if len(parts) == 1 else SpanChecked(wq.Sequence(parts, slop=slop))


class SpanChecked(wq.WrappingQuery):
    """A phrase or sequence query whose matcher never skips by block quality.

    Whoosh's span matchers (Phrase, Sequence) inherit a skip_to_quality that moves their
    intersection of words to a better block without checking the positions there, so a photo with
    the words apart could be reported as a phrase match. Turning quality skipping off for the
    query costs little: phrases already read the positions of every photo that has all the words.
    """

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        return _NoQualitySkip(m) if m.is_active() else m


class _NoQualitySkip(WrappingMatcher):
    def _replacement(self, newchild):
        return self.__class__(newchild)

    def supports_block_quality(self):
        return False


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

    def describe(self) -> str:
        """The word, its confidence, and why it matched, for people."""
        text = f"{self.text} ({self.confidence:.2f})"
        if self.kind == "alternate":
            return f"{text} read also as {self.via!r}"
        if self.kind == "confusion":
            return f"{text} ~{self.clause} (OCR confusion)"
        if self.kind == "fuzzy":
            return f"{text} ~{self.clause}"
        if self.kind in ("phrase_confusion", "phrase_misread") and set(tokenize(self.text)).isdisjoint(
                tokenize(self.clause)):  # the phrase's words that were read right need no comment
            how = "OCR confusion" if self.kind == "phrase_confusion" else "misread"
            return f"{text} ~word of {self.clause} ({how})"
        return text


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
    word_tokens = [_word_tokens(w.text) for w in words]
    alt_cache: list[list[tuple[str, tuple[str, ...]]]] = []

    def alt_tokens() -> list[list[tuple[str, tuple[str, ...]]]]:  # decoded only when a clause needs them
        if not alt_cache:
            alt_cache.extend([(alt, _word_tokens(alt)) for alt, _ in w.alternates] if w.has_alternates else []
                             for w in words)
        return alt_cache

    found: dict[int, WordMatch] = {}

    def report(i: int, clause: Clause, kind: MatchKind, via: str | None = None) -> None:
        if i not in found:
            w = words[i]
            found[i] = WordMatch(w.text, tuple(w.box), w.confidence, w.quad, clause.label, kind, via)

    for clause in parsed.clauses:
        if clause.kind == "phrase":
            indices, kind = _phrase_match(clause.tokens, word_tokens, config)
            for i in indices:
                report(i, clause, kind)
            continue
        token = clause.tokens[0]
        if clause.kind == "prefix":
            direct = [i for i, toks in enumerate(word_tokens) if any(t.startswith(token) for t in toks)]
            kind: MatchKind = "prefix"
            alt_test = lambda toks: any(t.startswith(token) for t in toks)  # noqa: E731
        else:
            direct = [i for i, toks in enumerate(word_tokens) if token in toks]
            kind = "exact"
            if not direct:
                confused = set(confusion_variants(token, config))
                direct = [i for i, toks in enumerate(word_tokens) if not confused.isdisjoint(toks)]
                kind = "confusion"
            maxdist = fuzzy_distance(token, config) if config.fuzzy else 0
            if not direct and maxdist:
                direct = [i for i, toks in enumerate(word_tokens)
                          if any(_close(token, t, maxdist, config.fuzzy_prefix) for t in toks)]
                kind = "fuzzy"
            alt_test = lambda toks: token in toks  # noqa: E731
        if direct:
            for i in direct:
                report(i, clause, kind)
            continue
        for i, alts in enumerate(alt_tokens()):
            hit = next((alt for alt, toks in alts if alt_test(toks)), None)
            if hit is not None:
                report(i, clause, "alternate", hit)
    return [found[i] for i in sorted(found)][:MAX_MATCHES_PER_PHOTO]


@lru_cache(maxsize=65536)
def _word_tokens(text: str) -> tuple[str, ...]:
    """tokenize(), remembered: the top photos of a query share most of their words."""
    return tuple(tokenize(text))


def _phrase_match(phrase: tuple[str, ...], word_tokens: Sequence[Sequence[str]], config: SearchConfig
                  ) -> tuple[list[int], MatchKind]:
    """Indices of the words that make up the phrase, and how: the best of the query's three bands."""
    stream = [(token, i) for i, toks in enumerate(word_tokens) for token in toks]
    exact = [{t} for t in phrase]
    hits = _runs(stream, exact)
    if hits or not config.tolerant_phrases:
        return hits, "phrase"
    confused = [{t, *confusion_variants(t, config)} for t in phrase]
    hits = _runs(stream, confused)
    if hits:
        return hits, "phrase_confusion"
    n = len(phrase)
    found: set[int] = set()
    if n >= 3:
        for k in range(n):
            before, after = confused[:k], confused[k + 1:]
            if before and after:
                found.update(_runs(stream, before, after))
            else:
                found.update(_runs(stream, before or after))
    else:
        for k in range(n):
            token = phrase[k]
            maxdist = fuzzy_distance(token, config) if config.fuzzy else 0
            near = [t for t, _ in stream if t not in confused[k]
                    and maxdist and _close(token, t, maxdist, config.fuzzy_prefix)]
            loose = (confused[k] - {token}) | set(near)
            if loose:
                found.update(_runs(stream, [loose if i == k else confused[i] for i in range(n)]))
    return sorted(found), "phrase_misread"


def _runs(stream: list[tuple[str, int]], first: list[set[str]], then: list[set[str]] | None = None) -> list[int]:
    """Word indices of the runs of tokens matching `first` (one set of spellings per position),
    followed, when `then` is given, by a run matching `then` right after it or one token later
    (the misread word in between is reported too)."""
    n = len(first)
    hits: set[int] = set()
    for start in range(len(stream) - n + 1):
        if not all(stream[start + k][0] in first[k] for k in range(n)):
            continue
        if then is None:
            hits.update(i for _, i in stream[start:start + n])
            continue
        for gap in (0, 1):
            at = start + n + gap
            if at + len(then) <= len(stream) and all(stream[at + k][0] in then[k] for k in range(len(then))):
                hits.update(i for _, i in stream[start:at + len(then)])
    return sorted(hits)


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
        reader, lexicon = searcher.reader(), self._current_lexicon(searcher)

        def ranked_by(bands: Bands, limit: int = limit, with_searcher: bool = False) -> list[tuple[str, float]]:
            query = build_whoosh_query(parsed, reader, self.config, lexicon, searcher if with_searcher else None, bands)
            if query is wq.NullQuery:
                return []
            return [(hit["path"], hit.score) for hit in searcher.search(query, limit=limit)]

        if len(parsed.clauses) == 1 and parsed.clauses[0].kind != "prefix":
            # One clause: its bands never overlap, so the exact band's photos come first, in their
            # order, whatever else matches. Search it alone first: when it fills the page, the
            # lower bands and their many variant terms need not be searched at all; else they are
            # searched without it, and their photos follow (a photo of both keeps its exact score).
            ranked = ranked_by("exact")
            if len(ranked) < limit:
                seen = {path for path, _ in ranked}
                below = ranked_by("below_exact", limit + len(ranked))
                if not ranked and not below and parsed.clauses[0].kind == "phrase":
                    below = ranked_by("misread")
                ranked += [(path, score) for path, score in below if path not in seen][:limit - len(ranked)]
        else:
            ranked = ranked_by("all", with_searcher=True)
        words = self.store.words_by_path([path for path, _ in ranked])
        hits = [SearchHit(path, score, find_matches(parsed, words.get(path, []), self.config)) for path, score in ranked]
        return SearchResult(parsed, hits)

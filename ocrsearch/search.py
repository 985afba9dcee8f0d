"""Queries: user text -> clauses -> FTS5 expressions, one per band -> ranked photos -> matched words.

User text never reaches FTS5's query syntax as such. It is cut into clauses here (words, `prefix*`,
`"quoted phrases"`), each clause becomes FTS5 expressions built from tokens, every token quoted as
an FTS5 string, so quotes, colons, brackets, wildcards or 10,000 characters of noise can only ever
produce fewer clauses, never a syntax error.

Ranking (see SearchConfig): each clause scores in a band, exact > OCR confusion > fuzzy >
alternate reading > near spelling of an alternate reading, and the clause scores add up, so
photos that match more of the query come first. Inside a band BM25 breaks ties.

Forgiving search. Recognition errors are not random edits: an OCR reads "m" as "rn", "d" as "cl",
"o" as "0". Each query word is expanded into the spellings those confusions give (both ways, at
most one or two per word, see `confusion_variants`); the ones present in the index match in the
confusion band, above arbitrary near spellings, and work for words too short for fuzzy matching
or whose first letter was misread. A phrase matches, in falling bands: exactly; with any of its
words read through a confusion; with one word misread anyhow (the other words in order, with room
for the misread one).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from ocrsearch.config import SearchConfig
from ocrsearch.index import Index, apostrophe_parts, fts_string, tokenize
from ocrsearch.words import StoredWord

ClauseKind = Literal["term", "prefix", "phrase"]
# how a word matched: its clause's word exactly, through an OCR confusion, as a near spelling, as a
# word start, in the phrase (exactly, through confusions, or with one word of the phrase misread),
# or through one of its alternate readings, exactly or as a near spelling
MatchKind = Literal["exact", "confusion", "fuzzy", "prefix", "phrase", "phrase_confusion", "phrase_misread",
                    "alternate", "alternate_fuzzy"]
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


def fuzzy_distance(token: str, config: SearchConfig, alternates: bool = False) -> int:
    """Edit distance at which near spellings of `token` match: of the 1-best text, or (`alternates`)
    of the alternate readings."""
    if alternates and not config.fuzzy_alternates:
        return 0
    letters = sum(ch.isalpha() for ch in token)
    if len(token) > MAX_FUZZY_TOKEN_CHARS:
        return 0
    if letters >= (config.alternate_fuzzy_min_letters_2 if alternates else config.fuzzy_min_letters_2):
        return 2
    if letters >= (config.alternate_fuzzy_min_letters_1 if alternates else config.fuzzy_min_letters_1):
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


def band_score(points: float, bm25: float, tie_break: float) -> float:
    """A score in [points, points * (1 + tie_break)): the band sets the points, BM25 the order inside it."""
    return points * (1.0 + tie_break * bm25 / (bm25 + 1.0))


@dataclass(frozen=True)
class Band:
    """One band of a clause: a photo matching any of its FTS5 expressions scores `points` plus the
    BM25 of its best expression (the best, not the sum: a photo with two different misspellings of
    a word is no better a match than a photo with one).

    fallback: searched only when no better band of the clause matched any photo.
    verify: FTS5 cannot say it all (NEAR ignores word order), so each candidate photo is checked
    against its stored words.
    """

    points: float
    expressions: tuple[str, ...]
    fallback: bool = False
    verify: bool = False


class FuzzyLexicon:
    """Fuzzy variants of query tokens among the indexed tokens of the 1-best text (or of the
    alternate readings).

    The terms of a prefix are read from the index's vocabulary once per index generation and
    compared in C by rapidfuzz.
    """

    def __init__(self, index: Index, config: SearchConfig):
        self.index = index
        self.config = config
        # (column, prefix) -> term -> photos with it
        self._terms_by_prefix: dict[tuple[str, str], dict[str, int]] = {}
        self._all_terms: dict[str, int] | None = None  # the whole 1-best vocabulary, once load_all() ran
        self._known: dict[str, int | None] = {}  # lookups made without it

    def _terms(self, prefix: str, column: str = "text") -> dict[str, int]:
        terms = self._terms_by_prefix.get((column, prefix))
        if terms is None:
            terms = self._terms_by_prefix[(column, prefix)] = self.index.terms(prefix, column)
        return terms

    def load_all(self) -> None:
        """Read the whole vocabulary now (one pass per column), so that no later query pays for its prefix."""
        n = self.config.fuzzy_prefix
        by_prefix: dict[tuple[str, str], dict[str, int]] = {}
        for column in ("text", "alt") if self.config.fuzzy_alternates else ("text",):
            terms = self.index.terms(column=column)
            if column == "text":
                self._all_terms = terms
            for term, frequency in terms.items():
                by_prefix.setdefault((column, term[:n]), {})[term] = frequency
        self._terms_by_prefix = by_prefix

    def existing(self, terms: Iterable[str]) -> list[str]:
        """The given tokens that occur in the 1-best text of some photo, in the given order."""
        if self._all_terms is not None:
            return [t for t in terms if t in self._all_terms]
        terms = list(terms)
        unknown = [t for t in terms if t not in self._known]
        if unknown:
            found = self.index.doc_frequencies(unknown)
            self._known.update({t: found.get(t) for t in unknown})
        return [t for t in terms if self._known[t] is not None]

    def confusions(self, token: str) -> list[str]:
        """Indexed tokens that differ from `token` by OCR confusions only, fewest confusions first."""
        return self.existing(confusion_variants(token, self.config))[:self.config.max_confusion_variants]

    def variants(self, token: str, maxdist: int, column: str = "text") -> list[str]:
        """Tokens indexed in `column` within `maxdist` edits of `token` (the token itself excluded)."""
        candidates = self._terms(token[:self.config.fuzzy_prefix], column)
        found = process.extract(token, list(candidates), scorer=DamerauLevenshtein.distance, score_cutoff=maxdist,
                                limit=None)
        variants = sorted((distance, term) for term, distance, _ in found if term != token)
        if len(variants) > self.config.max_fuzzy_variants:
            variants.sort(key=lambda dv: (dv[0], -candidates[dv[1]], dv[1]))
            variants = variants[:self.config.max_fuzzy_variants]
        return sorted(term for _, term in variants)


def clause_bands(clause: Clause, lexicon: FuzzyLexicon, config: SearchConfig) -> Iterator[Band]:
    """The bands of a clause, best first. Lazily: the lower bands look their variants up in the
    lexicon, which a query whose exact band fills the page never needs."""
    if clause.kind == "prefix":
        start = fts_string(clause.tokens[0]) + "*"
        yield Band(config.exact_points, (f"text : {start}",))
        yield Band(config.alternate_points, (f"alt : {start}",))
        return
    if clause.kind == "phrase":
        yield from _phrase_bands(clause.tokens, lexicon, config)
        return
    token = clause.tokens[0]
    yield Band(config.exact_points, _each("text", [fts_string(token)]))
    confused = lexicon.confusions(token)
    if confused:
        yield Band(config.confusion_points, _each("text", [fts_string(t) for t in confused]))
    maxdist = fuzzy_distance(token, config) if config.fuzzy else 0
    near = [t for t in lexicon.variants(token, maxdist) if t not in confused] if maxdist else []
    if near:
        yield Band(config.fuzzy_points, _each("text", [fts_string(t) for t in near]))
    yield Band(config.alternate_points, _each("alt", [fts_string(token)]))
    alt_maxdist = fuzzy_distance(token, config, alternates=True) if config.fuzzy else 0
    near_alternates = lexicon.variants(token, alt_maxdist, "alt") if alt_maxdist else []
    if near_alternates:
        yield Band(config.alternate_fuzzy_points, _each("alt", [fts_string(t) for t in near_alternates]))


def _phrase_bands(tokens: tuple[str, ...], lexicon: FuzzyLexicon, config: SearchConfig) -> Iterator[Band]:
    """A phrase in three bands: exact; each word exact or through confusions; and, as a fallback,
    one word misread (the others in order, with room for one word where it was)."""
    yield Band(config.exact_points, _each("text", [_phrase(tokens)]))
    if not config.tolerant_phrases:
        return
    options = [(t, *lexicon.confusions(t)) for t in tokens]
    confused = _spellings(options, config.max_phrase_variants + 1)[1:]  # the first one is the phrase itself
    if confused:
        yield Band(config.confusion_points, _each("text", [_phrase(p) for p in confused]))
    n = len(tokens)
    if n >= 3:
        parts = []
        for k in range(n):
            before = _spellings(options[:k], config.max_phrase_variants)
            after = _spellings(options[k + 1:], config.max_phrase_variants)
            if before[0] and after[0]:
                parts += [f"NEAR({_phrase(b)} {_phrase(a)}, 1)" for b in before for a in after][:config.max_phrase_variants]
            else:
                parts += [_phrase(p) for p in before if p] + [_phrase(p) for p in after if p]
        # NEAR allows either order: candidates are checked against the stored words
        yield Band(config.fuzzy_points, _each("text", parts), fallback=True, verify=True)
        return
    parts = []
    for k in range(n):  # two words: the misread one must still be near (a confusion or a near spelling)
        maxdist = fuzzy_distance(tokens[k], config) if config.fuzzy else 0
        loose = list(dict.fromkeys([*options[k][1:], *(lexicon.variants(tokens[k], maxdist) if maxdist else [])]))
        if loose:
            parts += [_phrase(p) for p in _spellings([*options[:k], tuple(loose), *options[k + 1:]],
                                                     config.max_phrase_variants)]
    if parts:
        yield Band(config.fuzzy_points, _each("text", parts), fallback=True)


def _spellings(options: Sequence[Sequence[str]], cap: int) -> list[tuple[str, ...]]:
    """Sequences taking one spelling per position, the first spellings first, at most `cap`."""
    return list(itertools.islice(itertools.product(*options), cap))


def _phrase(tokens: Sequence[str]) -> str:
    return fts_string(" ".join(tokens))


def _each(column: str, expressions: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{column} : {e}" for e in dict.fromkeys(expressions))


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
    via: str | None = None  # the alternate reading that matched, for the alternate kinds

    def to_json(self) -> dict:
        return {"text": self.text, "box": list(self.box), "confidence": round(float(self.confidence), 4)}

    def describe(self) -> str:
        """The word, its confidence, and why it matched, for people."""
        text = f"{self.text} ({self.confidence:.2f})"
        if self.kind == "alternate":
            return f"{text} read also as {self.via!r}"
        if self.kind == "alternate_fuzzy":
            return f"{text} read also as {self.via!r} ~{self.clause}"
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
    word_tokens = [_word_tokens(w.text) for w in words]  # phrases: the words' tokens in order
    word_terms = [_word_terms(w.text) for w in words]  # single words: their apostrophe parts too
    alt_cache: list[list[tuple[str, tuple[str, ...]]]] = []

    def alt_tokens() -> list[list[tuple[str, tuple[str, ...]]]]:  # decoded only when a clause needs them
        if not alt_cache:
            alt_cache.extend([(alt, _word_terms(alt)) for alt, _ in w.alternates] if w.has_alternates else []
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
            direct = [i for i, toks in enumerate(word_terms) if any(t.startswith(token) for t in toks)]
            kind: MatchKind = "prefix"
            alt_test = lambda toks: any(t.startswith(token) for t in toks)  # noqa: E731
        else:
            direct = [i for i, toks in enumerate(word_terms) if token in toks]
            kind = "exact"
            if not direct:
                confused = set(confusion_variants(token, config))
                direct = [i for i, toks in enumerate(word_terms) if not confused.isdisjoint(toks)]
                kind = "confusion"
            maxdist = fuzzy_distance(token, config) if config.fuzzy else 0
            if not direct and maxdist:
                direct = [i for i, toks in enumerate(word_terms)
                          if any(_close(token, t, maxdist, config.fuzzy_prefix) for t in toks)]
                kind = "fuzzy"
            alt_test = lambda toks: token in toks  # noqa: E731
        if direct:
            for i in direct:
                report(i, clause, kind)
            continue
        alternates, kind = _alternate_hits(alt_tokens(), alt_test), "alternate"
        alt_maxdist = fuzzy_distance(token, config, alternates=True) if config.fuzzy and clause.kind == "term" else 0
        if not alternates and alt_maxdist:
            near = lambda toks: any(_close(token, t, alt_maxdist, config.fuzzy_prefix) for t in toks)  # noqa: E731
            alternates, kind = _alternate_hits(alt_tokens(), near), "alternate_fuzzy"
        for i, alt in alternates:
            report(i, clause, kind, alt)
    return [found[i] for i in sorted(found)][:MAX_MATCHES_PER_PHOTO]


def _alternate_hits(alternates: Sequence[Sequence[tuple[str, tuple[str, ...]]]], test) -> list[tuple[int, str]]:
    """(word index, its first alternate reading whose tokens pass `test`) of each word that has one."""
    hits = []
    for i, alts in enumerate(alternates):
        hit = next((alt for alt, toks in alts if test(toks)), None)
        if hit is not None:
            hits.append((i, hit))
    return hits


@lru_cache(maxsize=65536)
def _word_tokens(text: str) -> tuple[str, ...]:
    """tokenize(), remembered: the top photos of a query share most of their words."""
    return tuple(tokenize(text))


@lru_cache(maxsize=65536)
def _word_terms(text: str) -> tuple[str, ...]:
    """A word's tokens and their apostrophe parts, as the index holds them."""
    tokens = _word_tokens(text)
    return tokens + tuple(apostrophe_parts(tokens))


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
        self._lexicon: FuzzyLexicon | None = None
        self._generation: int | None = None

    def _current_lexicon(self) -> FuzzyLexicon:
        generation = self.index.generation()
        if self._lexicon is None or generation != self._generation:  # new, or the index changed
            self._lexicon = FuzzyLexicon(self.index, self.config)
            self._generation = generation
        return self._lexicon

    def warm(self) -> None:
        """Load what queries would otherwise load on first use (the vocabulary for fuzzy matching).

        For long-running processes; a one-off CLI search is faster without it, since it only needs
        the words that share its query's first letter.
        """
        self._current_lexicon().load_all()

    def search(self, text: str, limit: int | None = None) -> SearchResult:
        parsed = parse_query(text, self.config)
        if parsed.empty:
            return SearchResult(parsed, [])
        limit = limit or self.config.default_limit
        if len(parsed.clauses) == 1:
            ranked = self.rank_by_band(parsed.clauses[0], limit)
        else:
            ranked = self.rank(parsed.clauses, limit)
        words = self.store.words_by_path([path for path, _ in ranked])
        hits = [SearchHit(path, score, find_matches(parsed, words.get(path, []), self.config)) for path, score in ranked]
        return SearchResult(parsed, hits)

    def rank(self, clauses: Sequence[Clause], limit: int) -> list[tuple[str, float]]:
        """(path, score) of the best photos: a clause scores its best band, and clause scores add up,
        so photos that match more of the query come first."""
        lexicon = self._current_lexicon()
        scores: dict[str, float] = {}
        for clause in clauses:
            best: dict[str, float] = {}
            for band in clause_bands(clause, lexicon, self.config):
                if band.fallback and best:
                    break
                for path, bm25 in self._band_hits(clause, band):
                    score = band_score(band.points, bm25, self.config.tie_break)
                    if score > best.get(path, 0.0):
                        best[path] = score
            for path, score in best.items():
                scores[path] = scores.get(path, 0.0) + score
        return sorted(scores.items(), key=lambda ps: (-ps[1], ps[0]))[:limit]

    def rank_by_band(self, clause: Clause, limit: int) -> list[tuple[str, float]]:
        """`rank` of a one-clause query, a band at a time: bands never overlap, so each band's photos
        follow those of the bands above, and once the page is full the lower bands (and their many
        variant terms) need not be searched at all. A photo in two bands keeps the better score."""
        ranked: list[tuple[str, float]] = []
        seen: set[str] = set()
        for band in clause_bands(clause, self._current_lexicon(), self.config):
            if len(ranked) >= limit or (band.fallback and ranked):
                break
            hits = [(path, band_score(band.points, bm25, self.config.tie_break))
                    for path, bm25 in self._band_hits(clause, band, limit + len(ranked))]
            for path, score in sorted(hits, key=lambda ps: (-ps[1], ps[0])):
                if path not in seen:
                    seen.add(path)
                    ranked.append((path, score))
        return ranked[:limit]

    def _band_hits(self, clause: Clause, band: Band, limit: int | None = None) -> list[tuple[str, float]]:
        """(path, BM25 of its best expression) of the band's photos, best first; with a limit, the
        best `limit` (each expression's best `limit` hold them all)."""
        best: dict[str, float] = {}
        for expression in band.expressions:
            for path, bm25 in self.index.match(expression, None if band.verify else limit):
                if bm25 > best.get(path, -1.0):
                    best[path] = bm25
        hits = sorted(best.items(), key=lambda pb: (-pb[1], pb[0]))
        if band.verify:
            words = self.store.words_by_path(list(best))
            alone = ParsedQuery((clause,))
            hits = [(path, bm25) for path, bm25 in hits if find_matches(alone, words.get(path, []), self.config)]
        return hits[:limit]

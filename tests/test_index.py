"""The index and search: ranking bands, phrases, prefixes, hostile queries, lifecycle and repair."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import page

from ocrsearch.config import DbLayout, SearchConfig
from ocrsearch.index import Index, document_tokens, tokenize
from ocrsearch.search import PhotoSearcher, find_matches, parse_query
from ocrsearch.store import PhotoInput, Store


def _ranked(store: Store, index: Index, query: str) -> list[str]:
    return [hit.photo for hit in PhotoSearcher(store, index).search(query, limit=20).hits]


def test_exact_beats_fuzzy_beats_alternate_whatever_bm25_says(library) -> None:
    """Exact 1-best matches rank above fuzzy ones, which rank above alternate readings.

    The fuzzy and alternate photos are built to win on BM25 (short, the term repeated), so the
    order can only come from the score bands.
    """
    store, index, add = library
    add("/p/exact.jpg", page("budget", *[f"filler{i}" for i in range(40)]))
    add("/p/fuzzy.jpg", page("budgel", "budgel", "budgel"))
    add("/p/alternate.jpg", page(("budgot", [("budget", 0.4)]), ("bvdget", [("budget", 0.3)])))
    add("/p/unrelated.jpg", page("meeting"))

    assert _ranked(store, index, "budget") == ["/p/exact.jpg", "/p/fuzzy.jpg", "/p/alternate.jpg"]


def test_fuzzy_distance_depends_on_word_length(library) -> None:
    """Edit distance 1 from 5 letters, 2 from 8 letters, none below 5 letters."""
    store, index, add = library
    add("/p/a.jpg", page("plam", "budgxt", "quartxrlx"))

    assert _ranked(store, index, "plan") == []  # 4 letters: exact only
    assert _ranked(store, index, "budget") == ["/p/a.jpg"]  # 6 letters, 1 edit
    assert _ranked(store, index, "quarterly") == ["/p/a.jpg"]  # 9 letters, 2 edits
    assert _ranked(store, index, "bxdgxx") == []  # 6 letters, 2 edits: too far


def test_search_is_case_insensitive(library) -> None:
    """'BUDGET', 'Budget' and 'budget' find the same photo whatever case was written."""
    store, index, add = library
    add("/p/a.jpg", page("BuDgEt"))

    for query in ("budget", "BUDGET", "Budget"):
        assert _ranked(store, index, query) == ["/p/a.jpg"]


def test_phrase_needs_adjacent_words_in_order(library) -> None:
    """"quarterly budget" matches the two words side by side only."""
    store, index, add = library
    add("/p/phrase.jpg", page("the", "Quarterly", "budget", "review"))
    add("/p/apart.jpg", page("quarterly", "review", "budget"))
    add("/p/reversed.jpg", page("budget", "quarterly"))

    assert _ranked(store, index, '"quarterly budget"') == ["/p/phrase.jpg"]
    assert set(_ranked(store, index, "quarterly budget")) == {"/p/phrase.jpg", "/p/apart.jpg", "/p/reversed.jpg"}


def test_prefix_query_matches_word_starts(library) -> None:
    """budg* finds budget and budgets, not 'abudget'."""
    store, index, add = library
    add("/p/a.jpg", page("budgets"))
    add("/p/b.jpg", page("budget"))
    add("/p/c.jpg", page("abudget"))

    assert set(_ranked(store, index, "budg*")) == {"/p/a.jpg", "/p/b.jpg"}


def test_photos_matching_more_query_words_rank_first(library) -> None:
    """Clause scores add up: a photo with both words beats photos with one."""
    store, index, add = library
    add("/p/one.jpg", page("roadmap", "roadmap", "roadmap"))
    add("/p/both.jpg", page("roadmap", "meeting", *[f"w{i}" for i in range(30)]))

    assert _ranked(store, index, "roadmap meeting")[0] == "/p/both.jpg"


NASTY_QUERIES = [
    '"', '""', '"unbalanced phrase', 'title:budget', 'path:/etc/passwd', '(budget', 'budget)', '((((', 'a AND OR NOT b',
    '*', '?', 'b*', '*udget', 'bud?et', 'budget~2', 'budget^10', '[a TO z]', '{x}', '\\', '\x00', 'ünïcödé façade',
    '日本語のメモ', '💡 idea', '-budget', '+budget', '#$%&', ' ', '', 'x' * 10_000, 'budget ' * 3000, '"' * 999,
    "don't", 'quarterly\tbudget\nmeeting', '\u200b\u200b',
]


@pytest.mark.parametrize("query", NASTY_QUERIES, ids=range(len(NASTY_QUERIES)))
def test_hostile_queries_return_results_or_notes_never_raise(library, query: str) -> None:
    """Any user string yields a result list (maybe with notes); none reaches a query parser."""
    store, index, add = library
    add("/p/a.jpg", page("budget", "meeting", "don't"))

    result = PhotoSearcher(store, index).search(query, limit=5)

    assert isinstance(result.hits, list)
    if not result.hits:
        assert result.query.clauses or result.notes


def test_query_parsing_keeps_phrases_prefixes_and_limits() -> None:
    """Parsing turns text into clauses, caps their number and says so."""
    parsed = parse_query('Quarterly "Budget review" road* x:(y')
    assert [(c.kind, c.tokens) for c in parsed.clauses] == [
        ("term", ("quarterly",)), ("phrase", ("budget", "review")), ("prefix", ("road",)), ("term", ("x",)),
        ("term", ("y",))]
    many = parse_query(" ".join(f"w{i}" for i in range(100)), SearchConfig(max_clauses=32))
    assert len(many.clauses) == 32 and many.notes


def test_matches_report_which_word_matched_and_how(library) -> None:
    """Matched words come from the store with box, confidence, and how they matched the query."""
    store, index, add = library
    add("/p/a.jpg", page("Budgel", ("mxxting", [("meeting", 0.3)]), "other"))

    hits = PhotoSearcher(store, index).search("budget meeting").hits

    assert len(hits) == 1
    matches = {(m.text, m.kind, m.clause, m.via, m.box) for m in hits[0].matches}
    assert matches == {("Budgel", "fuzzy", "budget", None, (0, 0, 9, 9)),
                       ("mxxting", "alternate", "meeting", "meeting", (10, 0, 19, 9))}
    assert set(hits[0].to_json()) == {"photo", "score", "matches"}
    assert set(hits[0].to_json()["matches"][0]) == {"text", "box", "confidence"}


def test_find_matches_on_phrases_marks_each_word() -> None:
    """A phrase match reports every word of the run, not the words elsewhere on the photo."""
    words = page("quarterly", "budget", "and", "budget").words
    from ocrsearch.store import StoredWord

    stored = [StoredWord.of(w.text, w.confidence, w.box, w.quad, w.alternates) for w in words]
    matches = find_matches(parse_query('"quarterly budget"'), stored)
    assert [m.box for m in matches] == [(0, 0, 9, 9), (10, 0, 19, 9)]


def test_rewriting_a_photo_keeps_one_index_row(library) -> None:
    """Re-reading a photo replaces its index row: it is never duplicated, and its old words are gone."""
    store, index, add = library
    store.put_reading(PhotoInput("/p/a.jpg", "h1", 1, page("old")))
    store.put_reading(PhotoInput("/p/a.jpg", "h2", 1, page("new")))

    assert index.doc_count() == 1 and index.hashes() == {"/p/a.jpg": "h2"}
    assert _ranked(store, index, "old") == [] and _ranked(store, index, "new") == ["/p/a.jpg"]


def test_failed_batch_leaves_neither_words_nor_index_rows(library) -> None:
    """Words and index rows are written in one transaction: a batch that fails writes neither."""
    store, index, add = library
    add("/p/kept.jpg", page("kept"))
    broken = page("lost")
    broken.words[0].quad = [[0, 0]]
    with pytest.raises(ValueError):
        store.add_many([PhotoInput("/p/lost.jpg", "h", 1, page("lost")), PhotoInput("/p/broken.jpg", "h", 1, broken)])

    assert index.hashes() == {"/p/kept.jpg": "hash-/p/kept.jpg"}
    assert _ranked(store, index, "lost") == []


def test_removed_photos_leave_the_index(library) -> None:
    """store.remove() takes the photos out of the index in the same transaction."""
    store, index, add = library
    add("/p/a.jpg", page("budget"))
    add("/p/b.jpg", page("budget"))

    assert store.remove(["/p/a.jpg"]) == ["/p/a.jpg"]
    assert _ranked(store, index, "budget") == ["/p/b.jpg"] and index.doc_count() == 1


def test_rebuild_index_restores_a_damaged_index_atomically(library, layout: DbLayout) -> None:
    """rebuild_index() refills the index from the stored words: same rows, same results, no duplicates."""
    store, index, add = library
    for i in range(5):
        add(f"/p/{i}.jpg", page(f"word{i}", ("budgct", [("budget", 0.3)])))
    store.put_failure("/p/bad.jpg", None, None, "not an image")
    with sqlite3.connect(layout.sqlite_path) as conn:  # damage it by hand
        conn.execute("DELETE FROM photo_text WHERE rowid IN (SELECT id FROM photos WHERE path IN ('/p/1.jpg', '/p/2.jpg'))")
    assert index.doc_count() == 3

    assert store.rebuild_index() == 5
    assert sorted(index.hashes()) == [f"/p/{i}.jpg" for i in range(5)]
    assert _ranked(store, index, "word2") == ["/p/2.jpg"]
    assert len(_ranked(store, index, "budget")) == 5  # the fuzzy band, through the 1-best "budgct"
    assert [h.matches[0].kind for h in PhotoSearcher(store, index).search("budget").hits] == ["fuzzy"] * 5


def test_tokenize_folds_case_and_keeps_inner_apostrophes() -> None:
    """Index and queries share one tokenizer."""
    assert tokenize("Don't STOP: Q3-plan, Straße") == ["don't", "stop", "q3", "plan", "strasse"]


def test_document_tokens_are_those_of_each_word() -> None:
    """A document's words are tokenized in one pass; the tokens are those of each word on its own."""
    words = ["Don't", "'quoted'", "İstanbul", "Q3-plan", "", "a’b", "end'", "'t", "Straße"]

    text, alt = document_tokens(words, alternates=["Q3-pIan", *words[::-1], "Q3-pIan"])

    # the words' tokens in order, then the apostrophe parts of two or more characters
    assert text == [t for w in words for t in tokenize(w)] + ["don"]
    # Alternates repeating a 1-best token add nothing a search could find; others count once.
    assert alt == ["pian"]


@pytest.mark.parametrize("word", ["Don't", "a’b", "snake_case", "İstanbul", "Straße", "naïve", "日本語", "x²", "Q3"])
def test_the_index_finds_each_token_as_tokenize_cuts_it(library, word: str) -> None:
    """FTS5's own tokenizer must not cut our tokens further or fold them otherwise: a stored word is
    found by itself, as a term and in a phrase, in any case."""
    store, index, add = library
    add("/p/a.jpg", page("before", word, "after"))

    for query in (word, word.upper(), f'"before {word}"', f'"{word} after"'):
        kinds = [h.matches[0].kind for h in PhotoSearcher(store, index).search(query).hits]
        assert kinds == ["phrase" if '"' in query else "exact"], query


def test_long_lived_searcher_sees_new_photos_and_new_vocabulary(library) -> None:
    """A warmed-up PhotoSearcher finds photos indexed after it was created, fuzzy matches included."""
    store, index, add = library
    add("/p/a.jpg", page("budget"))
    searcher = PhotoSearcher(store, index)
    searcher.warm()
    assert searcher.search("roadmap").hits == []

    add("/p/b.jpg", page("roadmap"))

    assert [h.photo for h in searcher.search("roadmap").hits] == ["/p/b.jpg"]
    assert [h.photo for h in searcher.search("roadmep").hits] == ["/p/b.jpg"]
    assert [h.photo for h in searcher.search("budgct").hits] == ["/p/a.jpg"]


def test_index_of_a_database_at_another_revision_is_refused(layout: DbLayout) -> None:
    """The index reads only a database at the schema it was written for (the Store migrates)."""
    from ocrsearch.words import SchemaMismatch

    Store(layout.sqlite_path).open().close()
    with sqlite3.connect(layout.sqlite_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")

    with pytest.raises(SchemaMismatch):
        Index(layout.sqlite_path).open()


def test_possessives_are_found_by_their_word(library) -> None:
    """"boston" finds a photo where "Boston's" was read (an exact match of its part), phrases over
    the apostrophe word still hold, and the word itself is what the hit shows."""
    store, index, add = library
    add("/p/possessive.jpg", page("Boston's", "office", "hours"))
    add("/p/plain.jpg", page("Boston", "harbour"))
    add("/p/other.jpg", page("budget", "review"))

    assert sorted(_ranked(store, index, "boston")) == ["/p/plain.jpg", "/p/possessive.jpg"]
    hit = next(h for h in PhotoSearcher(store, index).search("boston").hits if h.photo == "/p/possessive.jpg")
    assert [(m.text, m.kind) for m in hit.matches] == [("Boston's", "exact")]
    assert _ranked(store, index, '"boston\'s office"') == ["/p/possessive.jpg"]
    assert _ranked(store, index, '"office hours"') == ["/p/possessive.jpg"]
    assert _ranked(store, index, "s") == []  # one-letter parts are not indexed

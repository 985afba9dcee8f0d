"""The index and search: ranking bands, phrases, prefixes, hostile queries, lifecycle and repair."""

from __future__ import annotations

import json

import pytest
from conftest import page

from ocrsearch.config import DbLayout, SearchConfig
from ocrsearch.index import VERSION_FILE, Index, IndexDoc, IndexOutdated, tokenize
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


def test_putting_a_document_twice_keeps_one(layout: DbLayout) -> None:
    """put() replaces by path: re-indexing a photo never duplicates it."""
    with Index(layout.index_dir) as index:
        index.put(IndexDoc("/p/a.jpg", "h1", ["old"]))
        index.put(IndexDoc("/p/a.jpg", "h2", ["new"]))
        assert index.doc_count() == 1
        assert index.hashes() == {"/p/a.jpg": "h2"}


def test_write_batch_is_cancelled_on_exception(layout: DbLayout) -> None:
    """A batch that raises leaves the index as it was (no half-written documents)."""
    with Index(layout.index_dir) as index:
        index.put(IndexDoc("/p/kept.jpg", "h", ["kept"]))
        with pytest.raises(RuntimeError):
            with index.batch() as batch:
                batch.put(IndexDoc("/p/lost.jpg", "h", ["lost"]))
                batch.delete("/p/kept.jpg")
                raise RuntimeError("crash mid-batch")
        assert index.hashes() == {"/p/kept.jpg": "h"}


def test_outdated_index_schema_is_detected_and_rebuilt(library, layout: DbLayout) -> None:
    """An index from another schema version is refused read-only and rebuilt from the store on write."""
    store, index, add = library
    add("/p/a.jpg", page("budget"))
    index.close()
    (layout.index_dir / VERSION_FILE).write_text(json.dumps({"schema_version": 0}))

    with pytest.raises(IndexOutdated, match="reindex"):
        Index(layout.index_dir).open(create=False)
    with Index(layout.index_dir) as reopened:
        assert reopened.needs_rebuild and reopened.doc_count() == 0
        assert reopened.rebuild(store) == 1
        assert _ranked(store, reopened, "budget") == ["/p/a.jpg"]


def test_reconcile_repairs_the_index_after_a_crash(library) -> None:
    """Photos stored but not indexed (crash between the writes) are added; stale and orphan documents fixed."""
    store, index, add = library
    add("/p/ok.jpg", page("fine"))
    store.put_reading(PhotoInput("/p/missing.jpg", "h", 1, page("budget")))  # the index write never happened
    store.put_reading(PhotoInput("/p/ok.jpg", "newer", 1, page("changed")))  # nor did this update
    index.put(IndexDoc("/p/orphan.jpg", "h", ["ghost"]))  # gone from the store

    assert index.reconcile(store) == (2, 1)
    assert index.hashes() == {"/p/ok.jpg": "newer", "/p/missing.jpg": "h"}
    assert _ranked(store, index, "budget") == ["/p/missing.jpg"]
    assert index.reconcile(store) == (0, 0)


def test_rebuild_is_atomic_for_readers(library) -> None:
    """rebuild() replaces documents in one commit: the result equals the store, without duplicates."""
    store, index, add = library
    for i in range(5):
        add(f"/p/{i}.jpg", page(f"word{i}"))
    index.put(IndexDoc("/p/orphan.jpg", "h", ["ghost"]))

    assert index.rebuild(store) == 5
    assert sorted(index.hashes()) == [f"/p/{i}.jpg" for i in range(5)]


def test_tokenize_folds_case_and_keeps_inner_apostrophes() -> None:
    """Index and queries share one tokenizer."""
    assert tokenize("Don't STOP: Q3-plan, Straße") == ["don't", "stop", "q3", "plan", "strasse"]


def test_document_tokens_are_those_of_each_word() -> None:
    """A document's words are tokenized in one pass; the tokens are those of each word on its own."""
    words = ["Don't", "'quoted'", "İstanbul", "Q3-plan", "", "a’b", "end'", "'t", "Straße"]
    doc = IndexDoc("/p.jpg", "h", words, alternates=["Q3-pIan", *words[::-1], "Q3-pIan"])

    fields = doc.fields()

    assert fields["text"] == [t for w in words for t in tokenize(w)]
    # Alternates repeating a 1-best token add nothing a search could find; others count once.
    assert fields["alt"] == ["pian"]


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


def test_index_never_replaces_a_folder_it_did_not_make(layout: DbLayout) -> None:
    """A non-empty folder where the index should be, that is not an index, is left alone."""
    layout.index_dir.mkdir(parents=True)
    (layout.index_dir / "my-notes.txt").write_text("precious")

    with pytest.raises(IndexOutdated, match="not an ocrsearch index"):
        Index(layout.index_dir).open()
    assert (layout.index_dir / "my-notes.txt").read_text() == "precious"

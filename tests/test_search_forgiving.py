"""Forgiving search on a real index: OCR confusions, their ranking band, phrases with a misread word."""

from __future__ import annotations

import pytest
from conftest import page

from ocrsearch.config import SearchConfig
from ocrsearch.search import PhotoSearcher, confusion_variants, find_matches, parse_query
from ocrsearch.store import StoredWord


def _ranked(store, index, query: str, config: SearchConfig = SearchConfig()) -> list[str]:
    return [hit.photo for hit in PhotoSearcher(store, index, config).search(query, limit=20).hits]


def test_confusion_variants_apply_both_ways_fewest_first() -> None:
    """m <-> rn, cl <-> d, li <-> h, 0 <-> o, 1/l/i, 5 <-> s, vv <-> w; one confusion before two."""
    config = SearchConfig()
    variants = confusion_variants("meeting", config)
    assert "rneeting" in variants and "meet1ng" in variants
    assert variants.index("rneeting") < variants.index("rneet1ng")  # two confusions come after one
    assert "modem" in confusion_variants("modern", config)
    assert "down" in confusion_variants("clown", config)
    assert "hello" in confusion_variants("liello", config)
    assert "t0day" in confusion_variants("today", config)
    assert "sale5" in confusion_variants("sales", config)
    assert "wow" in confusion_variants("vvow", config)
    assert confusion_variants("he", config) == []  # too short: "he" and "lie" are both words
    assert confusion_variants("meeting", SearchConfig(confusions=())) == []
    assert len(confusion_variants("illiillillil", config)) <= config.max_confusion_candidates


def test_meeting_finds_the_photo_where_ocr_read_rneeting(library) -> None:
    """'rn' read for 'm' (first letter included, so plain fuzzy search with its first-letter rule misses it)."""
    store, index, add = library
    add("/p/notes.jpg", page("weekly", "rneeting", "notes"))
    add("/p/other.jpg", page("quarterly", "budget"))

    assert _ranked(store, index, "meeting") == ["/p/notes.jpg"]
    assert _ranked(store, index, "Meeting") == ["/p/notes.jpg"]
    assert _ranked(store, index, "meeting", SearchConfig(confusions=())) == []

    match = PhotoSearcher(store, index).search("meeting").hits[0].matches
    assert [(m.text, m.kind, m.clause) for m in match] == [("rneeting", "confusion", "meeting")]
    assert "OCR confusion" in match[0].describe()


def test_confusions_find_short_words_and_digit_letter_swaps(library) -> None:
    """4-letter words (too short for fuzzy search) still match through confusions: 'c1ay', 'w0rk'."""
    store, index, add = library
    add("/p/a.jpg", page("c1ay", "w0rk"))
    add("/p/b.jpg", page("clay"))

    assert _ranked(store, index, "clay") == ["/p/b.jpg", "/p/a.jpg"]
    assert _ranked(store, index, "work") == ["/p/a.jpg"]
    assert _ranked(store, index, "fork") == []  # f -> w is not an OCR confusion, and 4 letters is no fuzzy


def test_budget_does_not_surface_a_photo_with_only_unrelated_words(library) -> None:
    """Confusion variants must exist in the index; unrelated words never match."""
    store, index, add = library
    add("/p/unrelated.jpg", page("weekly", "rneeting", "notes", "lunch", "bridge", "nudge"))

    assert _ranked(store, index, "budget") == []
    assert _ranked(store, index, '"quarterly budget"') == []


def test_ranking_exact_then_confusion_then_fuzzy_then_alternate(library) -> None:
    """Whatever BM25 says, each tier ranks below the one before: the photos of the lower tiers are
    built to win on BM25 (short, the word repeated)."""
    store, index, add = library
    add("/p/exact.jpg", page("meeting", *[f"filler{i}" for i in range(40)]))
    add("/p/confusion.jpg", page("rneeting", "rneeting", "rneeting"))
    add("/p/fuzzy.jpg", page("meating", "meating", "meating"))
    add("/p/alternate.jpg", page(("mxxting", [("meeting", 0.4)])))
    add("/p/near-alternate.jpg", page(("mxxtxng", [("meetng", 0.4)])))
    add("/p/unrelated.jpg", page("budget"))

    assert _ranked(store, index, "meeting") == ["/p/exact.jpg", "/p/confusion.jpg", "/p/fuzzy.jpg",
                                                 "/p/alternate.jpg", "/p/near-alternate.jpg"]
    hits = PhotoSearcher(store, index).search("meeting").hits
    kinds = [hit.matches[0].kind for hit in hits]
    assert kinds == ["exact", "confusion", "fuzzy", "alternate", "alternate_fuzzy"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[-1].matches[0].describe() == "mxxtxng (0.90) read also as 'meetng' ~meeting"


def test_near_spellings_of_alternates_follow_their_own_length_rule(library) -> None:
    """An alternate one letter off matches a 5+ letter query by default, not a shorter one, and not
    with fuzzy_alternates off or a higher letter count."""
    store, index, add = library
    add("/p/a.jpg", page(("xxxxxx", [("budgt", 0.3)]), ("yyy", [("tak", 0.3)])))

    assert _ranked(store, index, "budget") == ["/p/a.jpg"]
    assert _ranked(store, index, "task") == []
    assert _ranked(store, index, "budget", SearchConfig(fuzzy_alternates=False)) == []
    assert _ranked(store, index, "budget", SearchConfig(alternate_fuzzy_min_letters_1=7)) == []
    assert _ranked(store, index, '"budget"') == ["/p/a.jpg"]


def test_a_phrase_with_one_confused_word_still_finds_the_photo(library) -> None:
    """'"team meeting notes"' finds 'team rneeting notes', below an exact phrase match."""
    store, index, add = library
    add("/p/confused.jpg", page("team", "rneeting", "notes"))
    add("/p/exact.jpg", page("team", "meeting", "notes", *[f"w{i}" for i in range(30)]))
    add("/p/apart.jpg", page("team", "lunch", "then", "rneeting", "and", "notes"))

    assert _ranked(store, index, '"team meeting notes"') == ["/p/exact.jpg", "/p/confused.jpg"]
    matches = PhotoSearcher(store, index).search('"team meeting notes"').hits[1].matches
    assert {(m.text, m.kind) for m in matches} == {("team", "phrase_confusion"), ("rneeting", "phrase_confusion"),
                                                  ("notes", "phrase_confusion")}


def test_a_phrase_with_one_misread_word_still_finds_the_photo(library) -> None:
    """A word misread beyond any confusion: the other words in order, with room for it. This is
    the fallback when neither the phrase nor its confusions are on any photo."""
    store, index, add = library
    add("/p/misread.jpg", page("quarterly", "bvdqxt", "review"))  # 'budget', 3 edits away
    add("/p/two.jpg", page("quarterly", "budgct"))  # a 2-word phrase: the misread word must be near
    add("/p/far.jpg", page("quarterly", "one", "two", "review", "budget"))

    assert _ranked(store, index, '"quarterly budget review"') == ["/p/misread.jpg"]
    assert _ranked(store, index, '"quarterly budget"') == ["/p/two.jpg"]
    misread = PhotoSearcher(store, index).search('"quarterly budget review"').hits[0]
    assert [(m.text, m.kind) for m in misread.matches] == [
        ("quarterly", "phrase_misread"), ("bvdqxt", "phrase_misread"), ("review", "phrase_misread")]
    assert "misread" in misread.matches[1].describe() and "misread" not in misread.matches[0].describe()
    strict = SearchConfig(tolerant_phrases=False)
    assert _ranked(store, index, '"quarterly budget review"', strict) == []

    # once the phrase is on some photo, the fallback is not needed (and not paid for)
    add("/p/exact.jpg", page("quarterly", "budget", "review"))
    assert _ranked(store, index, '"quarterly budget review"') == ["/p/exact.jpg"]


def test_phrase_matches_need_the_words_in_order(library) -> None:
    """Tolerance never turns a phrase into a bag of words."""
    store, index, add = library
    add("/p/reversed.jpg", page("review", "budget", "quarterly"))
    add("/p/scattered.jpg", page("quarterly", "a", "b", "budget", "c", "d", "review"))

    assert _ranked(store, index, '"quarterly budget review"') == []


def test_find_matches_explains_confusions_without_an_index() -> None:
    """The same rules decide how each stored word matched (used by `show` and the human output)."""
    words = [StoredWord.of(w.text, w.confidence, w.box, w.quad, w.alternates)
             for w in page("Rneeting", "c1ient", "notes").words]
    matches = find_matches(parse_query("meeting client"), words)
    assert [(m.text, m.kind, m.clause) for m in matches] == [("Rneeting", "confusion", "meeting"),
                                                            ("c1ient", "confusion", "client")]


def test_one_clause_queries_stop_at_the_exact_band_when_it_fills_the_page(library) -> None:
    """When exact matches fill the top N the lower bands are not searched; the page is the same as
    the one the full query ranks."""
    store, index, add = library
    for i in range(12):
        add(f"/p/exact{i:02d}.jpg", page("meeting", *[f"w{j}" for j in range(i)]))
    add("/p/confusion.jpg", page("rneeting"))
    add("/p/fuzzy.jpg", page("meating"))

    searcher = PhotoSearcher(store, index)
    top = [(h.photo, h.score) for h in searcher.search("meeting", limit=10).hits]
    assert top == searcher.rank(parse_query("meeting").clauses, limit=10)
    assert all(photo.startswith("/p/exact") for photo, _ in top)
    assert [h.photo for h in searcher.search("meeting", limit=14).hits][-2:] == ["/p/confusion.jpg", "/p/fuzzy.jpg"]

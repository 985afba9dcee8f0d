#!/usr/bin/env python3
"""Search quality under OCR errors: recall@10 and false positives of exact, fuzzy and confusion-aware search.

A synthetic collection (default 2,000 photos x 200 words, wordfreq's 50,000 most frequent English
words with Zipf weights, as bench/index_throughput.py) is "read" by a simulated OCR that misreads
words: with --confusion-rate through one of the usual OCR confusions (m/rn, d/cl, h/li, o/0, l/1/i,
s/5, w/vv, either way), with --edit-rate through any other letter substitution, and capitalises
some first letters. Greedy decoding is simulated: no alternate readings. The store and the index
hold the misread words; queries are the true words.

Queries (DESIGN.md §4: words of 4+ letters, not stopwords):
  present  a word that occurs on at most --max-df photos (so that all of them fit in a top 10);
           recall@10 = share of (query, photo) pairs whose photo is in the query's top 10,
           reported for all pairs and by how the photo's OCR read the word
  absent   a word from wordfreq's ranks 50,000-80,000 that is on no photo;
           false-positive rate = share of these queries that return any photo
  phrase   three consecutive words of a photo (4+ letters each), quoted: recall@10 of that photo,
           for phrases read exactly and phrases with one misread word
Modes: exact (no fuzzy matching), fuzzy (edit distance, as before confusion matching; the phrase
must be exact), "conf, no fuzzy" (confusions and tolerant phrases, no edit distance), confusion
(the default SearchConfig: confusions, then edit distance, tolerant phrases). Latencies are per query, in-process, searcher warmed up (see bench/search_latency.py).

    .venv/bin/python bench/search_quality.py
    .venv/bin/python bench/search_quality.py --photos 2000 --confusion-rate 0.1 --edit-rate 0.05
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_throughput import vocabulary  # noqa: E402
from search_latency import STOPWORDS, percentile  # noqa: E402

from ocrsearch.config import OCR_CONFUSIONS, DbLayout, SearchConfig  # noqa: E402
from ocrsearch.index import Index  # noqa: E402
from ocrsearch.search import PhotoSearcher  # noqa: E402
from ocrsearch.store import PhotoInput, Store  # noqa: E402
from ocrsearch.types import PageReading, Word  # noqa: E402

MODES = {
    "exact": SearchConfig(fuzzy=False, confusions=(), tolerant_phrases=False),
    "fuzzy": SearchConfig(confusions=(), tolerant_phrases=False),
    "conf, no fuzzy": SearchConfig(fuzzy=False),  # to tell what the confusions add on their own
    "confusion": SearchConfig(),
}
# the OCR's misreadings: each confusion pair, both ways
MISREADINGS = [(a, b) for a, b in OCR_CONFUSIONS] + [(b, a) for a, b in OCR_CONFUSIONS]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def searchable(word: str) -> bool:
    return word.isalpha() and len(word) >= 4 and word not in STOPWORDS


def confuse(word: str, rng: np.random.Generator) -> str | None:
    """The word with one OCR confusion at a random place where one applies, or None."""
    places = [(i, src, dst) for src, dst in MISREADINGS for i in range(len(word)) if word.startswith(src, i)]
    if not places:
        return None
    i, src, dst = places[int(rng.integers(len(places)))]
    return word[:i] + dst + word[i + len(src):]


def misspell(word: str, rng: np.random.Generator) -> str:
    """One letter replaced by another (not an OCR confusion of it)."""
    i = int(rng.integers(len(word)))
    while True:
        letter = LETTERS[int(rng.integers(26))]
        candidate = word[:i] + letter + word[i + 1:]
        if letter != word[i] and confuse_distance_1(word, candidate) is False:
            return candidate


def confuse_distance_1(word: str, candidate: str) -> bool:
    return any(word[:i] + dst + word[i + len(src):] == candidate
               for src, dst in MISREADINGS for i in range(len(word)) if word.startswith(src, i))


@dataclass
class Collection:
    truth: list[list[str]]  # per photo, the true words
    read: list[list[str]]  # per photo, what the OCR read
    how: list[list[str]]  # per photo and word: "clean", "confusion" or "edit"


def simulate(n_photos: int, words_per_photo: int, confusion_rate: float, edit_rate: float, seed: int) -> Collection:
    words, probabilities = vocabulary()
    rng = np.random.default_rng(seed)
    truth, read, how = [], [], []
    for _ in range(n_photos):
        chosen = [words[i] for i in rng.choice(len(words), size=words_per_photo, p=probabilities)]
        page_read, page_how = [], []
        for word in chosen:
            r = rng.random()
            text, kind = word, "clean"
            if r < confusion_rate:
                confused = confuse(word, rng)
                if confused is not None:
                    text, kind = confused, "confusion"
            elif r < confusion_rate + edit_rate and len(word) >= 2:
                text, kind = misspell(word, rng), "edit"
            if rng.random() < 0.1:
                text = text[:1].upper() + text[1:]
            page_read.append(text)
            page_how.append(kind)
        truth.append(chosen)
        read.append(page_read)
        how.append(page_how)
    return Collection(truth, read, how)


def photo_path(i: int) -> str:
    return f"/photos/{i // 1000:03d}/photo{i:06d}.jpg"


def build(layout: DbLayout, collection: Collection) -> None:
    inputs = []
    for i, page_words in enumerate(collection.read):
        words = []
        for k, text in enumerate(page_words):
            x0, y0 = 40 + (k % 10) * 380, 40 + (k // 10) * 140
            words.append(Word(text=text, confidence=0.9, box=(x0, y0, x0 + 300, y0 + 90),
                              quad=[[x0, y0], [x0 + 300, y0], [x0 + 300, y0 + 90], [x0, y0 + 90]]))
        inputs.append(PhotoInput(photo_path(i), f"{i:064x}", 1, PageReading(4000, 3000, words), "simulated"))
    with Store(layout.sqlite_path) as store:
        for start in range(0, len(inputs), 1000):
            store.add_many(inputs[start:start + 1000])  # words and index rows together


def make_queries(collection: Collection, n: int, max_df: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    photos_of: dict[str, set[int]] = defaultdict(set)
    for i, page_words in enumerate(collection.truth):
        for word in page_words:
            photos_of[word].add(i)
    # present: (word, {photo: how it was read there}) for words on at most max_df photos
    how_read: dict[str, dict[int, str]] = defaultdict(dict)
    for i, (page_words, page_how) in enumerate(zip(collection.truth, collection.how)):
        for word, kind in zip(page_words, page_how):
            previous = how_read[word].get(i)
            how_read[word][i] = kind if previous in (None, "clean") else previous  # misread once is misread
    rare = sorted(w for w, photos in photos_of.items() if searchable(w) and len(photos) <= max_df)
    # half the present queries are words misread somewhere, so that the misread cases are measured
    misread = [w for w in rare if any(k != "clean" for k in how_read[w].values())]
    picked = list(rng.choice(misread, size=min(n // 2, len(misread)), replace=False))
    others = sorted(set(rare) - set(picked))
    picked += list(rng.choice(others, size=min(n - len(picked), len(others)), replace=False))
    present = [(w, how_read[w]) for w in picked]
    from wordfreq import top_n_list

    candidates = [w for w in top_n_list("en", 80_000)[50_000:] if searchable(w) and w not in photos_of]
    absent = list(rng.choice(candidates, size=min(n, len(candidates)), replace=False))
    # phrases: three consecutive searchable words; half with one of them misread
    clean_phrases, misread_phrases = [], []
    for i in rng.permutation(len(collection.truth)):
        t, h = collection.truth[i], collection.how[i]
        for k in range(len(t) - 2):
            if all(searchable(w) for w in t[k:k + 3]):
                kinds = h[k:k + 3]
                bad = sum(kind != "clean" for kind in kinds)
                phrase = (f'"{" ".join(t[k:k + 3])}"', int(i))
                if bad == 0 and len(clean_phrases) < n // 4:
                    clean_phrases.append(phrase)
                elif bad == 1 and len(misread_phrases) < n // 4:
                    misread_phrases.append(phrase)
                break
        if len(clean_phrases) >= n // 4 and len(misread_phrases) >= n // 4:
            break
    return present, absent, clean_phrases, misread_phrases


def run_mode(store: Store, index: Index, config: SearchConfig, queries) -> dict:
    present, absent, clean_phrases, misread_phrases = queries
    searcher = PhotoSearcher(store, index, config)
    searcher.warm()
    latencies: list[float] = []

    def top10(text: str) -> set[str]:
        t0 = time.perf_counter()
        hits = searcher.search(text, limit=10).hits
        latencies.append((time.perf_counter() - t0) * 1000)
        return {h.photo for h in hits}

    found = defaultdict(lambda: [0, 0])  # how the photo read the word -> [found, total]
    wrong = 0  # hits of present queries on photos without the word
    for word, photos in present:
        top = top10(word)
        wrong += len(top - {photo_path(i) for i in photos})
        for i, kind in photos.items():
            found[kind][1] += 1
            found[kind][0] += photo_path(i) in top
    absent_hits = [len(top10(word)) for word in absent]
    phrase = {}
    for label, phrases in (("phrase clean", clean_phrases), ("phrase 1 misread", misread_phrases)):
        phrase[label] = sum(photo_path(i) in top10(text) for text, i in phrases) / max(1, len(phrases))
    total = [sum(v[0] for v in found.values()), sum(v[1] for v in found.values())]
    return {
        "recall all": total[0] / max(1, total[1]),
        **{f"recall {kind}": found[kind][0] / max(1, found[kind][1]) for kind in ("clean", "confusion", "edit")},
        **phrase,
        "wrong hits/query": wrong / max(1, len(present)),
        "absent FP rate": sum(h > 0 for h in absent_hits) / max(1, len(absent_hits)),
        "absent hits/query": float(np.mean(absent_hits)) if absent_hits else 0.0,
        "p50 ms": percentile(latencies, 50),
        "p95 ms": percentile(latencies, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--words", type=int, default=200, help="words per photo")
    parser.add_argument("--confusion-rate", type=float, default=0.10, help="share of words misread by an OCR confusion")
    parser.add_argument("--edit-rate", type=float, default=0.05, help="share of words misread otherwise")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind (present, absent; phrases: half)")
    parser.add_argument("--max-df", type=int, default=10, help="present queries: words on at most this many photos")
    parser.add_argument("--db", type=Path, default=None, help="keep the database here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = args.db or Path(tempfile.mkdtemp(prefix="ocrsearch-quality-"))
    if root.exists():
        shutil.rmtree(root)
    layout = DbLayout(root)
    try:
        t0 = time.perf_counter()
        collection = simulate(args.photos, args.words, args.confusion_rate, args.edit_rate, args.seed)
        build(layout, collection)
        n_words = args.photos * args.words
        counts = {k: sum(h.count(k) for h in collection.how) for k in ("confusion", "edit")}
        print(f"{args.photos} photos x {args.words} words; OCR misread {counts['confusion'] / n_words:.1%} through "
              f"confusions, {counts['edit'] / n_words:.1%} otherwise; built in {time.perf_counter() - t0:.0f} s")
        queries = make_queries(collection, args.queries, args.max_df, args.seed)
        print(f"queries: {len(queries[0])} present (on <= {args.max_df} photos), {len(queries[1])} absent, "
              f"{len(queries[2])} + {len(queries[3])} phrases (read exactly / one word misread)")
        with Store(layout.sqlite_path) as store, Index(layout.sqlite_path) as index:
            results = {mode: run_mode(store, index, config, queries) for mode, config in MODES.items()}
        rows = list(next(iter(results.values())))
        print(f"{'':20s}" + "".join(f"{mode:>16s}" for mode in results))
        for row in rows:
            fmt = "{:>16.1f}" if row.endswith("ms") or "/query" in row else "{:>16.1%}"
            print(f"{row:20s}" + "".join(fmt.format(results[mode][row]) for mode in results))
    finally:
        if args.db is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

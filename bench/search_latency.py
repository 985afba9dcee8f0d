#!/usr/bin/env python3
"""Search latency p50/p95 over a synthetic index (default 10,000 photos x 200 words).

Queries, measured in-process with the store and index open and the searcher warmed up (what a
long-running process pays per query):
  single  a word of 4+ letters drawn with its Zipf weight (the queries of DESIGN.md §4)
  fuzzy   a word of 6+ letters with one letter replaced, so it only matches through fuzzy search
  phrase  two adjacent words (4+ letters each) of an indexed photo, quoted
  stopword  (worst case, not a target) stopwords of 4+ letters such as "that", in nearly every photo
Each latency includes ranking with the FTS5 index and fetching the matched words and boxes from SQLite.
Target: p95 <= 50 ms. The cold CLI (`ocrsearch search`, a new process per query) is reported too.

    .venv/bin/python bench/search_latency.py                      # builds a temporary 10k-photo index
    .venv/bin/python bench/search_latency.py --db runs/bench-db   # reuses (or builds) a kept one
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_throughput import build, synthetic_photos, vocabulary  # noqa: E402

from ocrsearch.config import DbLayout  # noqa: E402
from ocrsearch.index import Index  # noqa: E402
from ocrsearch.search import PhotoSearcher  # noqa: E402
from ocrsearch.store import Store  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# The scorer's stopwords (../shared/bench/score.py): its queries are words of 4+ letters not in this set
STOPWORDS = set("""a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves also been cannot could dont else ever every here many
much must never once said shall since still upon well were whose without yet""".split())


def _searchable(word: str) -> bool:
    """What DESIGN.md §4 queries: words of 4+ letters that are not stopwords."""
    return word.isalpha() and len(word) >= 4 and word not in STOPWORDS


def make_queries(n: int, seed: int, n_photos: int, words_per_photo: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed + 1)
    words, probabilities = vocabulary()
    alphabetic = np.array([w.isalpha() for w in words])
    p4 = probabilities * np.array([_searchable(w) for w in words])
    p6 = probabilities * (alphabetic & np.array([len(w) >= 6 for w in words]))
    single = [words[i] for i in rng.choice(len(words), n, p=p4 / p4.sum())]
    vocabulary_set = set(words)
    fuzzy = []
    for i in rng.choice(len(words), n * 3, p=p6 / p6.sum()):
        word = words[i]
        k = int(rng.integers(1, len(word)))  # keep the first letter: fuzzy variants must share it
        variant = word[:k] + ("x" if word[k] != "x" else "z") + word[k + 1:]
        if variant not in vocabulary_set:
            fuzzy.append(variant)
        if len(fuzzy) == n:
            break
    phrase = []
    for start in rng.integers(0, n_photos, n):
        photo_words = [w.text for w in next(synthetic_photos(1, words_per_photo, seed, int(start))).reading.words]
        pairs = [(a, b) for a, b in zip(photo_words, photo_words[1:]) if _searchable(a) and _searchable(b)]
        a, b = pairs[int(rng.integers(len(pairs)))]
        phrase.append(f'"{a} {b}"')
    # the worst case, which the scorer never asks: stopwords of 4+ letters, in nearly every photo
    common = [w for w in STOPWORDS if len(w) >= 4 and w in vocabulary_set]
    stopword = [common[i] for i in rng.integers(0, len(common), max(1, n // 4))]
    return {"single": single, "fuzzy": fuzzy, "phrase": phrase, "stopword": stopword}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200, help="queries per kind")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--db", type=Path, default=None, help="reuse or build the index here")
    parser.add_argument("--cli-queries", type=int, default=5, help="cold `ocrsearch search` runs (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = args.db or Path(tempfile.mkdtemp(prefix="ocrsearch-bench-"))
    layout = DbLayout(root)
    try:
        if not layout.exists():
            t0 = time.perf_counter()
            build(layout, args.photos, args.words, 1000, args.seed)
            print(f"built {args.photos} photos x {args.words} words in {time.perf_counter() - t0:.0f} s")
        queries = make_queries(args.queries, args.seed, args.photos, args.words)
        with Store(layout.sqlite_path) as store, Index(layout.sqlite_path) as index:
            print(f"index: {index.doc_count()} photos; {store.stats().words:,} words in the store")
            searcher = PhotoSearcher(store, index)
            t0 = time.perf_counter()
            searcher.warm()
            print(f"warm-up (vocabulary for fuzzy matching): {time.perf_counter() - t0:.2f} s")
            for kind, texts in queries.items():
                latencies, hits = [], []
                for text in texts:
                    t0 = time.perf_counter()
                    result = searcher.search(text, limit=args.limit)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    hits.append(len(result.hits))
                print(f"{kind:8s} p50 {percentile(latencies, 50):6.1f} ms   p95 {percentile(latencies, 95):6.1f} ms   "
                      f"max {max(latencies):6.1f} ms   ({len(texts)} queries, mean {statistics.mean(hits):.1f} hits)")
        if args.cli_queries:
            command = [str(Path(sys.executable).with_name("ocrsearch")), "search", "--db", str(root), "--json", "--limit",
                       str(args.limit)]
            cold = []
            for text in queries["single"][: args.cli_queries]:
                t0 = time.perf_counter()
                subprocess.run(command[:2] + [text] + command[2:], check=True, capture_output=True,
                               env={**os.environ})
                cold.append((time.perf_counter() - t0) * 1000)
            print(f"cold CLI `ocrsearch search` (new process each): median {statistics.median(cold):.0f} ms "
                  f"over {len(cold)} runs")
    finally:
        if args.db is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

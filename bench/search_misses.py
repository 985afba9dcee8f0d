"""Search recall and false hits on labelled page sets, in-process, for one pipeline setting or two.

For each set (a `pages.jsonl` folder such as `cache/pages-bin-val2`), the photos are ingested into
a temporary database; then every distinct word of each page (ocrsearch's own tokens) is searched
for, and a query counts as missed when its page is not in the top 10. False hits: frequent English
words (5+ letters unless `--absent-letters` says otherwise, from `wordfreq`) written on none of the
photos, each searched for in each set; a false hit is a query that returns any photo. Pipeline
settings differ by `--variant FIELD=VALUE` (PipelineConfig fields) and `--search FIELD=VALUE`
(SearchConfig fields, measured on the same databases), to measure a change against the default in
one run:

    python bench/search_misses.py --data cache/pages-bin-val2,cache/pages-bin-val3 \
        --variant reread_below=0 --variant default

    python bench/search_misses.py --data ../shared/data/stanford1905/tune \
        --search default --search fuzzy_min_letters_2=7

On stanford1905 the recall is also given per kind of line (`by_kind`: found/asked for handwritten,
printed, typewritten) and, apart, for the photos no recognizer was trained on (`held_out`, see
HELD_OUT_PHOTOS), and `--misses FILE` writes each missed query as a JSON line. `--one-best`
stores each word's 1-best reading alone: what search finds, and what the database weighs, without the
alternate readings.

Uses labelled sets we render ourselves, and stanford1905 *tune* (line text only), never synth-dev
or a dev split, which score.py measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from wordfreq import top_n_list

from ocrsearch.config import IngestConfig, PipelineConfig, SearchConfig, db_layout
from ocrsearch.index import Index, tokenize
from ocrsearch.ingest import ingest
from ocrsearch.pipeline import PhotoResult, PipelineReader
from ocrsearch.search import PhotoSearcher
from ocrsearch.words import WordReader


def number_or_text(value: str):
    """A field whose default is None takes an int, a float or text, whichever `value` reads as."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_variant(text: str, config=PipelineConfig()):
    """'default' or 'field=value,field=value' -> `config` (a PipelineConfig or SearchConfig) with
    those fields changed."""
    if text == "default":
        return config
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown {type(config).__name__} field {name!r}")
        current = getattr(config, name)
        if isinstance(current, tuple):
            if not all(isinstance(v, (int, float)) for v in current):
                raise SystemExit(f"{name} is not a list of numbers: it cannot be set from the command line")
            changes[name] = tuple(float(v) for v in value.split(";") if v)  # "0.15;-0.15"; empty: ()
        elif isinstance(current, bool):
            changes[name] = value.lower() in ("1", "true", "yes")
        else:
            changes[name] = type(current)(value) if current is not None else number_or_text(value)
    return dataclasses.replace(config, **changes)


# stanford1905 tune's two pages whose lines and word crops were kept out of recognizer training (the
# wild crops p0016 and p0025 are its validation set). The other 25 pages' lines and crops are in
# every stage since 8: weights that move away from stage 8 find fewer of their words, which says
# more about memory than about reading (recognizer/weights/README.md, stage 14).
HELD_OUT_PHOTOS = ("Lettre76_1.jpg", "SC0033B_s4_b01_f14_i091.jpg")


def page_words(data: Path) -> dict[str, dict[str, str]]:
    """Photo file name -> the distinct tokens written on it, each with the kind of line it was first
    written in (stanford1905's `Handwritten`, `Print`, ...; "word" on pages with word boxes)."""
    out = {}
    for line in (data / "pages.jsonl").read_text().splitlines():
        rec = json.loads(line)
        terms: dict[str, str] = {}
        # word boxes, or line boxes only (stanford1905)
        for item in rec["words"] or rec.get("lines", []):
            kind = item.get("type", "word" if rec["words"] else "untyped").rpartition(":")[2]
            for term in tokenize(item["text"]):
                terms.setdefault(term, kind)
        out[Path(rec["image"]).name] = terms
    return out


class OneBestReader:
    """The pipeline's reader with every word's alternate readings left out."""

    def __init__(self, config: PipelineConfig, model_threads: int | None = None) -> None:
        self.reader = PipelineReader.load(config, model_threads=model_threads)
        self.model_version = self.reader.model_version

    def read_file(self, path: str) -> PhotoResult:
        return self._one_best(self.reader.read_file(path))

    def read_files(self, paths: Sequence[str]) -> Iterator[PhotoResult]:
        return (self._one_best(result) for result in self.reader.read_files(paths))

    @staticmethod
    def _one_best(result: PhotoResult) -> PhotoResult:
        if result.reading is not None:
            for word in result.reading.words:
                word.alternates = []
        return result


def measure(sets: list[Path], config: PipelineConfig, absent: list[str], workdir: Path,
            searches: dict[str, SearchConfig], misses: list[dict] | None = None,
            one_best: bool = False, held_out: Sequence[str] = HELD_OUT_PHOTOS) -> dict[str, dict]:
    """Each set ingested once with `config`, then searched with each of `searches`; each missed
    query is appended to `misses` when given. Queries on the photos named in `held_out` are also
    counted apart, per kind."""
    counts = {name: {"queries": 0, "missed": 0, "false_hits": 0, "by_kind": {}, "held_out": {}} for name in searches}
    index_bytes = 0
    t0 = time.perf_counter()
    for data in sets:
        layout = db_layout(workdir / f"{data.name}-{id(config)}")
        make_reader = functools.partial(OneBestReader if one_best else PipelineReader.load, config)
        report = ingest([data / "pages"], layout, make_reader, config=IngestConfig())
        if report.failed:
            raise SystemExit(f"ingest failed on {len(report.failed)} photos of {data}")
        index_bytes += layout.sqlite_path.stat().st_size
        with WordReader(layout.sqlite_path) as words, Index(layout.sqlite_path) as index:
            for name, search_config in searches.items():
                searcher, count = PhotoSearcher(words, index, search_config), counts[name]
                for photo, terms in page_words(data).items():
                    for term, kind in sorted(terms.items()):
                        count["queries"] += 1
                        hits = [Path(h.to_json()["photo"]).name for h in searcher.search(term, 10).hits]
                        missed = photo not in hits
                        count["missed"] += missed
                        for group in [count["by_kind"]] + ([count["held_out"]] if photo in held_out else []):
                            per_kind = group.setdefault(kind, [0, 0])
                            per_kind[0] += 1
                            per_kind[1] += missed
                        if missed and misses is not None:
                            misses.append({"search": name, "set": data.name, "photo": photo, "query": term, "kind": kind})
                count["false_hits"] += sum(1 for q in absent if searcher.search(q, 10).hits)
    seconds = round(time.perf_counter() - t0, 1)
    return {name: {"queries": c["queries"], "missed": c["missed"], "recall@10": round(1 - c["missed"] / max(1, c["queries"]), 4),
                   "absent_queries": len(absent) * len(sets),
                   "false_hit_rate": round(c["false_hits"] / max(1, len(absent) * len(sets)), 4),
                   # queries found / asked per kind of line, where there is more than one kind
                   **({"by_kind": {kind: f"{n - m}/{n}" for kind, (n, m) in sorted(c["by_kind"].items())}}
                      if len(c["by_kind"]) > 1 else {}),
                   **({"held_out": {kind: f"{n - m}/{n}" for kind, (n, m) in sorted(c["held_out"].items())}}
                      if c["held_out"] else {}),
                   "db_bytes": index_bytes, "seconds": seconds}
            for name, c in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="comma-separated pages.jsonl folders")
    parser.add_argument("--variant", action="append", default=None,
                        help="'default' or FIELD=VALUE[,FIELD=VALUE] of PipelineConfig; repeatable")
    parser.add_argument("--search", action="append", default=None,
                        help="'default' or FIELD=VALUE[,FIELD=VALUE] of SearchConfig, each measured on every "
                             "variant's database; repeatable")
    parser.add_argument("--absent", type=int, default=400, help="absent-word queries per set")
    parser.add_argument("--absent-letters", default="5-",
                        help="lengths of the absent words: N-M, N- (N or more) or N; short words have more "
                             "near spellings written on the photos, so fuzzy settings for them want 4 or 3-4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--misses", type=Path, default=None, help="write the missed queries here (JSON lines)")
    parser.add_argument("--one-best", action="store_true", help="store each word's 1-best reading alone (no alternates)")
    parser.add_argument("--held-out-photos", default=",".join(HELD_OUT_PHOTOS),
                        help="comma-separated photo file names whose queries are also counted apart (`held_out`); "
                             "default: stanford1905 tune's pages kept out of recognizer training")
    args = parser.parse_args()
    sets = [Path(p) for p in args.data.split(",")]
    written = set().union(*(t for s in sets for t in page_words(s).values()))
    low, dash, high = args.absent_letters.partition("-")
    shortest, longest = int(low), int(high) if high else (99 if dash else int(low))
    candidates = [w for w in top_n_list("en", 20000)[2000:]
                  if w.isalpha() and shortest <= len(w) <= longest and w not in written]
    absent = random.Random(args.seed).sample(candidates, args.absent)
    with tempfile.TemporaryDirectory(prefix="search-misses-") as tmp:
        searches = {text: parse_variant(text, SearchConfig()) for text in args.search or ["default"]}
        misses: list[dict] = []
        for text in args.variant or ["default"]:
            start = len(misses)
            results = measure(sets, parse_variant(text), absent, Path(tmp), searches, misses, args.one_best,
                              held_out=[p for p in args.held_out_photos.split(",") if p])
            label = f"{text} (1-best only)" if args.one_best else text
            for search, result in results.items():
                print(label if len(searches) == 1 else f"{label} | search {search}", json.dumps(result), flush=True)
            for miss in misses[start:]:
                miss["variant"] = text
    if args.misses:
        args.misses.write_text("".join(json.dumps(m) + "\n" for m in misses))


if __name__ == "__main__":
    main()

"""What `ocrsearch read` gets right on labelled page sets, in-process, for one pipeline setting or more.

For each `--variant FIELD=VALUE,...` (PipelineConfig fields; `default` for the shipped setting) the
pages of each set are read and scored as score.py scores `ocrsearch read`: word F1 at IoU 0.5
(one-to-one greedy matching) and bag-of-words recall and precision (tokens case-folded, leading
and trailing punctuation stripped, counted as multisets). One run measures a change against the
default on the same pages:

    python bench/page_variants.py --data cache/pages-bin-val2,cache/pages-bin-val3 \
        --variant default --variant split_min_gain=0

Use sets we render ourselves or stanford1905 *tune*, never synth-dev or a dev split: those are
for score.py's figures.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from ocrsearch.pipeline import PipelineReader
from ocrsearch.types import Word

# bench/ is on sys.path when this runs as a script
from detection_by_scene import greedy_match  # score.py's one-to-one matching by descending IoU
from search_misses import parse_variant


def bag_token(text: str) -> str:
    """score.py's bag-of-words token: case-folded, non-word characters stripped at both ends."""
    return re.sub(r"^[^\w]+|[^\w]+$", "", text.casefold())


def page_counts(record: dict, words: list[Word]) -> Counter:
    truth = [w for w in record["words"] if not w.get("ignore")]
    truth_text = [w["text"] for w in truth] or [line["text"] if isinstance(line, dict) else line
                                                for line in record.get("lines", [])]
    bag_truth = Counter(t for text in truth_text for t in map(bag_token, text.split()) if t)
    bag_read = Counter(t for w in words for t in map(bag_token, w.text.split()) if t)
    counts = Counter(bag_truth=sum(bag_truth.values()), bag_read=sum(bag_read.values()),
                     bag_hit=sum((bag_truth & bag_read).values()))
    truth_boxes = [w["box"] for w in truth if w.get("box") is not None]
    if truth_boxes:
        counts.update(truth=len(truth_boxes), read=len(words),
                      matched=len(greedy_match(truth_boxes, [w.box for w in words], 0.5)))
    return counts


def measure(data: Path, reader: PipelineReader) -> Counter:
    records = [json.loads(line) for line in (data / "pages.jsonl").read_text().splitlines() if line.strip()]
    paths = [str(data / r["image"]) for r in records]
    total = Counter()
    for record, result in zip(records, reader.read_files(paths)):
        if not result.ok:
            raise SystemExit(f"{result.path}: {result.error}")
        total.update(page_counts(record, result.reading.words))
    return total


def figures(counts: Counter) -> dict:
    out = {"bow_recall": round(counts["bag_hit"] / max(1, counts["bag_truth"]), 4),
           "bow_precision": round(counts["bag_hit"] / max(1, counts["bag_read"]), 4)}
    if counts["truth"]:
        out["word_f1"] = round(2 * counts["matched"] / max(1, counts["truth"] + counts["read"]), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="comma-separated folders holding pages.jsonl")
    parser.add_argument("--variant", action="append", default=None,
                        help="'default' or FIELD=VALUE[,FIELD=VALUE] (PipelineConfig); repeatable")
    args = parser.parse_args()
    sets = [Path(p) for p in args.data.split(",")]
    for text in args.variant or ["default"]:
        t0 = time.perf_counter()
        reader = PipelineReader.load(parse_variant(text))
        per_set, pooled = {}, Counter()
        for data in sets:
            counts = measure(data, reader)
            per_set[data.name] = figures(counts)
            pooled.update(counts)
        print(json.dumps({"variant": text, "pooled": figures(pooled), "sets": per_set,
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()

"""What each decoder buys: accuracy and speed of greedy, beam, and beam with the word-frequency LM,
on the same crops with the same weights.

    .venv/bin/python bench/decoding.py                                   # synth-dev words + stanford dev lines
    .venv/bin/python bench/decoding.py --set cache/eval/heldout-fonts --lm-weights 0.2,0.4 --limit 500

Prints one row per (set, decoder): CER, word accuracy (exact and case-insensitive), crops/s, and
for beam decoders how often the truth is among the alternates ("oracle" accuracy: what search can
find when alternates are indexed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", dest="sets",
                        help="labels.tsv folder (repeatable; default: synth-dev words and stanford dev lines)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--lm-weights", default="0.2,0.4", help="comma list of LM weights to try")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from data.readers import open_dataset
    from recognizer import Recognizer
    from recognizer.charset import normalise_label
    from recognizer.decode import BeamConfig
    from recognizer.evaluate import score
    from recognizer.infer import RecognizerConfig

    base = Recognizer.load(args.weights)
    sets = args.sets or ["../shared/data/synth-dev", "../shared/data/stanford1905/dev/lines"]
    decoders = [("greedy", None), ("beam", BeamConfig(lm_weight=0.0))]
    decoders += [(f"beam+lm{w}", BeamConfig(lm_weight=float(w))) for w in args.lm_weights.split(",") if w]
    print(f"weights: {args.weights or 'shipped'}")
    print(f"{'set':28s} {'decoder':12s} {'n':>5s} {'CER':>7s} {'acc':>6s} {'acc_nc':>6s} {'oracle':>6s} {'crops/s':>8s}")
    for spec in sets:
        dataset = open_dataset(spec)
        n = min(args.limit, len(dataset))
        items = [dataset[i] for i in range(n)]
        crops, truths = [c for c, _ in items], [normalise_label(t) for _, t in items]
        for name, beam in decoders:
            # one model, decoders swapped: the weights are read from disk once
            recognizer = Recognizer(base.forward, RecognizerConfig(decoder="greedy" if beam is None else "beam", beam=beam),
                                    base.version)
            recognizer.recognize(crops[:8])  # warm-up (and the LM's vocabulary)
            started = time.perf_counter()
            readings = []
            for i in range(0, n, 64):
                readings += recognizer.recognize(crops[i:i + 64])
            seconds = time.perf_counter() - started
            s = score([r.text for r in readings], truths, seconds)
            oracle = sum(t.lower() in {r.text.lower(), *(a.lower() for a, _ in r.alternates)}
                         for r, t in zip(readings, truths)) / max(1, n)
            label = Path(spec).name if Path(spec).name not in ("lines", "words") else "/".join(Path(spec).parts[-2:])
            print(f"{label[:28]:28s} {name:12s} {n:5d} {s.cer:7.4f} {s.word_accuracy:6.3f} "
                  f"{s.word_accuracy_nocase:6.3f} {oracle:6.3f} {s.crops_per_second:8.1f}", flush=True)


if __name__ == "__main__":
    main()

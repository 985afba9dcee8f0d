#!/usr/bin/env python3
"""Beam search on the crops a page really gives: ours (recognizer/ctc_beam.py, batched) against
pyctcdecode, on the same frames, and whether they keep the same beams.

The pipeline reads the photos once as `ocrsearch read` does, recording the frames of every crop it
beam-decodes (first reads and re-reads). Those frames are then decoded again, untimed parts aside:
by pyctcdecode one crop at a time, and by ours in batches of up to 64 crops of similar length, as
the recognizer batches them. Needs pyctcdecode (the test extra).

    .venv/bin/python bench/beam_search_speed.py --photos "../shared/data/stanford1905/tune/pages/*.jpg" --limit 6
"""

from __future__ import annotations

import argparse
import glob
import time

import numpy as np

from ocrsearch.config import PipelineConfig
from ocrsearch.pipeline import PipelineReader
from recognizer.ctc_beam import PrefixBeamSearch, SearchLimits, VocabularyHashes
from recognizer.decode import BeamConfig, BeamDecoder, compress_blank_runs
from recognizer.lm import WordFrequencyLM, WordLMConfig
from recognizer.pyctcdecode_reference import reference_decoder


def recorded_frames(paths: list[str]) -> list[np.ndarray]:
    """[T, C] log-probs of every crop the pipeline beam-decodes while reading `paths`."""
    frames: list[np.ndarray] = []
    readings = BeamDecoder.readings

    def recording(self, crop_frames):
        frames.extend(np.array(f) for f in crop_frames)
        return readings(self, crop_frames)

    BeamDecoder.readings = recording
    try:
        reader = PipelineReader.load(PipelineConfig())
        for path in paths:
            reader.read_file(path)
    finally:
        BeamDecoder.readings = readings
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="../shared/data/stanford1905/tune/pages/*.jpg", help="a glob (quote it)")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    paths = sorted(glob.glob(args.photos))[: args.limit]
    if not paths:
        raise SystemExit(f"no photos match {args.photos}")

    cfg = BeamConfig()
    frames = [compress_blank_runs(f, cfg.blank_merge_logp) for f in recorded_frames(paths)]
    lm = WordFrequencyLM(WordLMConfig(weight=cfg.lm_weight))
    reference = reference_decoder(lm)
    ours = PrefixBeamSearch(VocabularyHashes(lm), SearchLimits(beam_width=cfg.beam_width))

    start = time.perf_counter()
    expected = [[(text, score) for text, _, _, _, score in reference.decode_beams(f, beam_width=cfg.beam_width)]
                for f in frames]
    reference_s = time.perf_counter() - start

    order = np.argsort([len(f) for f in frames], kind="stable")
    got: list[list[tuple[str, float]]] = [[] for _ in frames]
    start = time.perf_counter()
    for i in range(0, len(frames), args.batch):
        batch = order[i:i + args.batch]
        for j, beams in zip(batch, ours.decode([frames[j] for j in batch])):
            got[j] = beams
    ours_s = time.perf_counter() - start

    other_texts = sum([t for t, _ in a] != [t for t, _ in b] for a, b in zip(expected, got))
    # skipped frames shift every score of a crop by the same amount: compare scores relative to the best
    other_scores = sum(
        [t for t, _ in a] == [t for t, _ in b]
        and not np.allclose([s - a[0][1] for _, s in a], [s - b[0][1] for _, s in b], atol=1e-4)
        for a, b in zip(expected, got))
    n = len(frames)
    print(f"{n} crops from {len(paths)} photos, {sum(len(f) for f in frames) / n:.1f} frames each after blank merging")
    print(f"pyctcdecode, one crop at a time: {reference_s / n * 1000:.2f} ms a crop")
    print(f"ours, batches of up to {args.batch}: {ours_s / n * 1000:.2f} ms a crop ({reference_s / ours_s:.1f}x)")
    print(f"crops whose beams differ in text: {other_texts}; in relative score (> 1e-4): {other_scores}")


if __name__ == "__main__":
    main()

"""CTC prefix beam search with a word prior, lean enough for every crop of a page.

It is the search pyctcdecode's `BeamSearchDecoderCTC.decode_beams` runs for a single-word language
model (no hotwords, no history pruning), written for what we use: the readings and their combined
scores. pyctcdecode keeps frame alignments, hotword scores and n-gram states for every beam of every
frame, and spent half of a dense page's reading time doing so; this does the same arithmetic in the
same order (so it keeps the same beams and gives the same readings) at a fraction of the cost:

- a beam is a key (text so far, word being written, last symbol) with its CTC log-score;
- each frame extends every beam by the symbols above `token_min_logp` (and the frame's best);
- beams with the same key are merged (log-sum of their scores);
- a beam's combined score adds the word prior of its finished words and a penalty for a word being
  written that no vocabulary word starts with; beams under `prune_logp` of the best are dropped and
  the best `beam_width` kept.

A run of frames that each offer only the same one symbol adds that symbol's log-probability to
every beam (all beams already end in it after the run's first frame), so such frames after the
first are skipped: every score shifts by the same amount and nothing is ranked differently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from recognizer.charset import ALPHABET, BLANK

_SYMBOLS = [""] + list(ALPHABET)  # class index -> text ("" for the blank)
_MIN_LOGP = math.log(1e-15)  # pyctcdecode's clip for log-probabilities


@dataclass(frozen=True)
class SearchLimits:
    beam_width: int = 16
    prune_logp: float = -10.0  # beams this far under the best are dropped (pyctcdecode's default)
    token_min_logp: float = -5.0  # symbols less likely than this in a frame are not tried (unless best)


def _log_add(a: float, b: float) -> float:
    # pyctcdecode's _sum_log_scores, term for term, so merged scores round the same way
    if a >= b:
        return a + math.log(1 + math.exp(b - a))
    return b + math.log(1 + math.exp(a - b))


def _join(text: str, word: str) -> str:
    if not word:
        return text
    return f"{text} {word}" if text else word


def frame_candidates(frames: np.ndarray, token_min_logp: float) -> list[tuple[list[int], list[float]]]:
    """[T, C] log-probs -> per frame, the classes to try (in pyctcdecode's order) and the row.

    Frames that repeat the previous frame's only candidate are left out (see the module doc)."""
    # pyctcdecode takes log_softmax of what it is given and clips it; our frames are already
    # log-probabilities, so this only renormalises rounding
    shifted = frames - frames.max(axis=1, keepdims=True)
    frames = np.clip(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), _MIN_LOGP, 0)
    best = frames.argmax(axis=1).tolist()
    above = frames >= token_min_logp
    counts = above.sum(axis=1).tolist()
    out: list[tuple[list[int], list[float]]] = []
    previous_only = -1
    for t, row in enumerate(frames):
        if counts[t] <= 1:
            only = best[t]
            if only == previous_only:
                continue
            previous_only = only
            out.append(([only], row.tolist()))
            continue
        previous_only = -1
        # the same set, built the same way, iterates in the same order as pyctcdecode's
        symbols = set(np.flatnonzero(above[t]).tolist()) | {best[t]}
        out.append((list(symbols), row.tolist()))
    return out


class _Priors(dict):
    """key -> prior, computed on first lookup: a plain dict lookup afterwards (the hot path)."""

    def __init__(self, compute: Callable[[tuple[str, str, str]], float]):
        super().__init__()
        self._compute = compute

    def __missing__(self, key: tuple[str, str, str]) -> float:
        value = self[key] = self._compute(key)
        return value


class PrefixBeamSearch:
    """`word_score(word)`: the prior added when a word is finished; `partial_score(part)`: added
    while a word is being written. Both are cached for the decoder's life (a page repeats them)."""

    def __init__(self, word_score: Callable[[str], float], partial_score: Callable[[str], float],
                 limits: SearchLimits = SearchLimits(), cache_size: int = 200_000):
        self._word_score = word_score
        self._partial_score = partial_score
        self.limits = limits
        self._cache_size = cache_size
        self._text_scores: dict[str, float] = {"": 0.0}
        self._partial_scores: dict[str, float] = {}
        self._priors = _Priors(self._beam_prior)

    def _text_score(self, text: str, word: str) -> float:
        """Prior of the finished words of `text + word` (cached by the joined text)."""
        joined = _join(text, word)
        score = self._text_scores.get(joined)
        if score is None:
            score = self._text_scores[text] + (self._word_score(word) if word else 0.0)
            self._text_scores[joined] = score
        return score

    def _beam_prior(self, key: tuple[str, str, str]) -> float:
        """A beam's prior: its finished words, and the word being written if no vocabulary word starts so."""
        text, part, _last = key
        prior = self._text_scores[text]
        if part:
            partial = self._partial_scores.get(part)
            if partial is None:
                partial = self._partial_scores[part] = self._partial_score(part)
            prior += partial
        return prior

    def decode(self, frames: np.ndarray) -> list[tuple[str, float]]:
        """[T, C] log-probs -> (text, combined score) of the final beams, best first."""
        if len(self._text_scores) > self._cache_size:  # a long ingest must not grow them forever
            self._text_scores = {"": 0.0}
            self._partial_scores.clear()
            self._priors.clear()
        limits = self.limits
        priors = self._priors
        by_combined = itemgetter(0)
        # (text, word part, last symbol) -> CTC log-score; "" as last symbol is the blank
        beams: list[tuple[tuple[str, str, str], float]] = [(("", "", ""), 0.0)]
        for symbols, row in frame_candidates(frames, limits.token_min_logp):
            merged: dict[tuple[str, str, str], float] = {}
            for index in symbols:
                logp = row[index]
                char = _SYMBOLS[index]
                for (text, part, last), score in beams:
                    if char == "" or char == last:
                        key = (text, part, char)
                    elif char == " ":
                        key = (_join(text, part), "", " ")
                        self._text_score(text, part)
                    else:
                        key = (text, part + char, char)
                    score += logp
                    old = merged.get(key)
                    if old is None:
                        merged[key] = score
                    elif old >= score:  # pyctcdecode's _sum_log_scores, so merged scores round the same way
                        merged[key] = old + math.log(1 + math.exp(score - old))
                    else:
                        merged[key] = score + math.log(1 + math.exp(old - score))
            scored = [(score + priors[key], key, score) for key, score in merged.items()]
            floor = max(scored, key=by_combined)[0] + limits.prune_logp
            # sorted(...)[:n] is heapq.nlargest's documented equivalent (same order on ties), faster for ~50
            kept = sorted([s for s in scored if s[0] >= floor], key=by_combined, reverse=True)[: limits.beam_width]
            beams = [(key, score) for _, key, score in kept]
        # the word still being written is finished at the end
        final: dict[str, float] = {}
        for (text, part, _last), score in beams:
            self._text_score(text, part)
            joined = _join(text, part)
            old = final.get(joined)
            final[joined] = score if old is None else _log_add(old, score)
        scored_final = [(score + self._text_scores[text], text) for text, score in final.items()]
        floor = max(s for s, _ in scored_final) + limits.prune_logp
        kept_final = sorted([s for s in scored_final if s[0] >= floor], key=by_combined, reverse=True)[: limits.beam_width]
        return [(" ".join(text.split()), score) for score, text in kept_final]

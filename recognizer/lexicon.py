"""Dictionary words the network's frames support, added to a reading's alternates.

Beam search keeps a handful of readings; on cursive it often ends with "sceely" or "anytng" while
"sincerely" and "anything" had most of their letters in the frames. Here the vocabulary words a few
edits from the readings are scored by their CTC likelihood over the same frames (every alignment,
case folded) plus the word-frequency prior the beam uses, and those scoring within a margin of the
best reading's own score become alternates, which search matches below 1-best words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recognizer.charset import ALPHABET, BLANK
from recognizer.lm import token_core

_LOWER = "abcdefghijklmnopqrstuvwxyz"
# folded class k (1..26) = P(lower letter) + P(upper letter); 0 stays the blank
_LOWER_COLUMNS = np.array([ALPHABET.index(c) + 1 for c in _LOWER])
_UPPER_COLUMNS = np.array([ALPHABET.index(c.upper()) + 1 for c in _LOWER])


@dataclass(frozen=True)
class LexiconConfig:
    # A word read with at least this confidence keeps its readings as they are.
    below_confidence: float = 1.0
    min_letters: int = 4  # readings shorter than this are not expanded (too many neighbours)
    # Vocabulary words within this many edits of a reading of n letters are scored:
    # 1 edit from `min_letters`, 2 from `two_edits_from`, 3 from `three_edits_from`.
    two_edits_from: int = 5
    three_edits_from: int = 8
    readings: int = 3  # how many of a crop's readings (best first) look for neighbours
    max_candidates: int = 300  # the most frequent neighbours scored per crop
    # A neighbour is kept when its score (CTC ln-likelihood + lm_weight x ln word prior) is within
    # this margin of the best reading's.
    margin: float = 3.0
    max_alternates: int = 3


def edit_budget(letters: int, cfg: LexiconConfig) -> int:
    if letters >= cfg.three_edits_from:
        return 3
    if letters >= cfg.two_edits_from:
        return 2
    return 1 if letters >= cfg.min_letters else 0


def fold_case(log_probs: np.ndarray) -> np.ndarray:
    """[T, C] log-probs -> [T, 27] probabilities: blank, then a..z with their capitals summed."""
    probs = np.exp(log_probs)
    return np.concatenate([probs[:, BLANK:BLANK + 1], probs[:, _LOWER_COLUMNS] + probs[:, _UPPER_COLUMNS]], axis=1)


def ctc_log_likelihoods(probs: np.ndarray, words: list[str]) -> np.ndarray:
    """ln P(word | frames) summed over all CTC alignments, for lower-case letter words at once.

    probs [T, 27] from `fold_case`. Forward recursion in probability space, rescaled per frame."""
    lengths = np.array([len(w) for w in words])
    states = 2 * int(lengths.max()) + 1
    extended = np.zeros((len(words), states), dtype=np.int64)  # blank, l1, blank, l2, ..., blank
    for n, word in enumerate(words):
        extended[n, 1:2 * len(word):2] = [ord(c) - 96 for c in word]
    # a letter may follow the one two states back (skipping the blank) unless they are the same
    skip = np.zeros_like(extended, dtype=bool)
    skip[:, 3::2] = extended[:, 3::2] != extended[:, 1:-2:2]
    emit = probs[:, extended]  # [T, N, S]
    alpha = np.zeros((len(words), states))
    alpha[:, :2] = emit[0, :, :2]
    log_scale = np.zeros(len(words))
    for t in range(1, probs.shape[0]):
        scale = alpha.sum(axis=1, keepdims=True) + 1e-300
        alpha /= scale
        log_scale += np.log(scale[:, 0])
        step = alpha.copy()
        step[:, 1:] += alpha[:, :-1]
        step[:, 2:] += np.where(skip[:, 2:], alpha[:, :-2], 0.0)
        alpha = step * emit[t]
    rows = np.arange(len(words))
    final = alpha[rows, 2 * lengths] + alpha[rows, 2 * lengths - 1]
    return np.log(final + 1e-300) + log_scale


def letters_core(text: str) -> str | None:
    """'Budget,' -> 'budget'; None for a reading that is not one word of letters."""
    core = token_core(text)
    return core if core.isascii() and core.isalpha() else None


class LexiconAlternates:
    """Adds vocabulary words the frames support to a Reading's alternates (see module doc)."""

    def __init__(self, lm, cfg: LexiconConfig = LexiconConfig()):
        from rapidfuzz.distance import Levenshtein

        self.lm = lm  # recognizer.lm.WordFrequencyLM: its vocabulary and weighted word prior
        self.cfg = cfg
        self._distance = Levenshtein.distance
        # the network writes ASCII only: "café" cannot be scored, and is not what a note says
        self._words = [w for w in lm.vocabulary.sorted_words if w.isascii()]

    def _prior(self, word: str) -> float:
        return self.lm.cfg.weight * self.lm.log_prob(word)

    def neighbours_of_each(self, core_lists: list[list[str]]) -> list[list[str]]:
        """For each list of cores, the vocabulary words within each core's edit budget of it (less
        the cores themselves), the `max_candidates` most frequent if there are more.

        One rapidfuzz call for every core of every list: it compares several queries per pass over
        the vocabulary, ~0.7 ms per core for a page's batch against ~4.5 ms one core at a time."""
        from rapidfuzz import process

        budgets = {core: edit_budget(len(core), self.cfg) for cores in core_lists for core in cores}
        queries = [core for core, budget in budgets.items() if budget > 0]
        near: dict[str, list[str]] = {}
        if queries:
            # distances above the cutoff come back as cutoff + 1, above every query's budget
            table = process.cdist(queries, self._words, scorer=self._distance, score_cutoff=max(budgets.values()),
                                  dtype=np.uint8, workers=1)  # [queries, vocabulary]
            for core, row in zip(queries, table):
                near[core] = [self._words[i] for i in np.flatnonzero(row <= budgets[core])]
        out = []
        for cores in core_lists:
            found = {word for core in cores for word in near.get(core, ())}
            found.difference_update(cores)
            if len(found) > self.cfg.max_candidates:
                found = set(sorted(found, key=self._prior, reverse=True)[: self.cfg.max_candidates])
            out.append(sorted(found))
        return out

    def extend(self, reading, log_probs: np.ndarray):
        """reading: a Reading of one crop; log_probs [T, C] its frames. Returns the Reading with
        the supported vocabulary words appended to its alternates (the input is not changed)."""
        return self.extend_all([reading], [log_probs])[0]

    def _cores(self, reading, log_probs: np.ndarray) -> list[str] | None:
        """The letter cores of a reading's best texts, or None when it is not to be expanded."""
        if reading.confidence >= self.cfg.below_confidence or log_probs.shape[0] < 2:
            return None
        texts = [reading.text] + [t for t, _ in reading.alternates]
        cores = [c for c in (letters_core(t) for t in texts[: self.cfg.readings]) if c]
        if not cores or letters_core(reading.text) is None:
            return None
        return list(dict.fromkeys(cores))

    def extend_all(self, readings: list, frames: list[np.ndarray]) -> list:
        """`extend` for the readings of a batch of crops, looking up all their neighbours at once."""
        cores = [self._cores(r, lp) for r, lp in zip(readings, frames)]
        expanded = [i for i, c in enumerate(cores) if c]
        out = list(readings)
        for i, candidates in zip(expanded, self.neighbours_of_each([cores[i] for i in expanded])):
            if candidates:
                out[i] = self._with_supported(readings[i], frames[i], cores[i][0], candidates)
        return out

    def _with_supported(self, reading, log_probs: np.ndarray, core: str, candidates: list[str]):
        from ocrsearch.types import Reading

        probs = fold_case(log_probs)
        scores = ctc_log_likelihoods(probs, [core] + candidates)
        scores += np.array([self._prior(w) for w in [core] + candidates])
        reference = scores[0]
        texts = [reading.text] + [t for t, _ in reading.alternates]
        known = {t.lower() for t in texts} | {letters_core(t) for t in texts}
        ranked = sorted(((s, w) for w, s in zip(candidates, scores[1:]) if s >= reference - self.cfg.margin
                         and w not in known), reverse=True)[: self.cfg.max_alternates]
        if not ranked:
            return reading
        added = [(w, reading.confidence * min(1.0, math.exp(s - reference))) for s, w in ranked]
        return Reading(reading.text, reading.confidence, list(reading.alternates) + added)

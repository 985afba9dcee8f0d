"""CTC prefix beam search with a word prior, for a whole batch of crops at once.

It is the search of pyctcdecode's `BeamSearchDecoderCTC.decode_beams` for a one-word language model
(no hotwords, no history pruning), which we used before. pyctcdecode steps one crop's ~16 beams
through its frames in Python, keeping frame alignments and n-gram states we do not use; a dense page
has ~400 crops to read, and that took half of its reading time. Here every beam of every crop of a
batch is a row of numpy arrays, and a frame step extends, merges, scores and prunes them all with
array operations: ~0.4 ms per crop against pyctcdecode's ~2 ms, for the same readings.

A beam's text is not kept as a string while searching. It is identified by a 64-bit polynomial hash
of what it wrote (words joined by single spaces, then the word being written), and its word prior
by the state of the word being written: the case-folded letters so far (hashed) and whether it can
still be, or is, a vocabulary word. The vocabulary's words and all their prefixes are hashed the same
way once, so "no vocabulary word starts so" and a finished word's frequency are array look-ups.
Texts are spelt out at the end, for the beams returned only, by walking back through what each frame
step appended. Two different texts sharing a hash (odds ~1e-15 per pair) would be merged.

The search is pyctcdecode's (tests/test_ctc_beam.py checks the beams and scores against it): a beam is
(text, word being written, last symbol); each frame extends every beam by the symbols above
`token_min_logp` and the frame's best; equal beams are merged by log-sum; a beam scores its CTC
log-probability plus the prior of its finished words plus a penalty while its word being written
cannot become a vocabulary word; beams under `prune_logp` of their crop's best are dropped and the
best `beam_width` of each crop kept. Where two beams of a crop tie exactly, the one kept may differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recognizer.charset import ALPHABET, BLANK, NUM_CLASSES
from recognizer.lm import PUNCTUATION

_MIN_LOGP = math.log(1e-15)  # pyctcdecode's clip for log-probabilities


@dataclass(frozen=True)
class SearchLimits:
    beam_width: int = 16
    prune_logp: float = -10.0  # beams this far under their crop's best are dropped (pyctcdecode's default)
    token_min_logp: float = -5.0  # symbols less likely than this in a frame are not tried (unless best)


_MULTIPLIER = np.uint64(1_000_003)  # hash: h -> h * _MULTIPLIER + code (mod 2^64)
_SPACE = ALPHABET.index(" ") + 1

# the word being written, as the prior sees it (recognizer/lm.py: token_core, score_partial_token)
_EMPTY, _LETTERS, _TRAILING, _OTHER = 0, 1, 2, 3  # "", "(ab", "(ab.)", "a1" / "ab.c" / "1"
_LETTER, _PUNCT, _OTHER_CHAR = 0, 1, 2
# [state, kind of the appended symbol] -> state
_NEXT_STATE = np.array([[_LETTERS, _EMPTY, _OTHER],
                        [_LETTERS, _TRAILING, _OTHER],
                        [_OTHER, _TRAILING, _OTHER],
                        [_OTHER, _OTHER, _OTHER]], dtype=np.int8)


def _symbol_tables() -> tuple[np.ndarray, np.ndarray]:
    """class index -> kind of symbol, and -> code of its lower-case letter (0 if not a letter)."""
    kind = np.full(NUM_CLASSES, _OTHER_CHAR, dtype=np.int8)
    lower = np.zeros(NUM_CLASSES, dtype=np.uint64)
    for i, ch in enumerate(ALPHABET, start=1):
        if ch.isalpha():
            kind[i], lower[i] = _LETTER, ord(ch.lower())
        elif ch in PUNCTUATION:
            kind[i] = _PUNCT
    return kind, lower


_KIND, _LOWER = _symbol_tables()


def _hash_strings(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every prefix of every word: [n, longest] (0 past a word's end), and the lengths."""
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    longest = int(lengths.max()) if len(words) else 0
    hashes = np.zeros((len(words), longest), dtype=np.uint64)
    h = np.zeros(len(words), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(longest):
            inside = j < lengths
            h = np.where(inside, h * _MULTIPLIER + codes[np.minimum(starts + j, len(codes) - 1)], h)
            hashes[:, j] = np.where(inside, h, 0)
    return hashes, lengths


class VocabularyHashes:
    """The word prior of recognizer/lm.py as array look-ups on hashed case-folded letter strings."""

    def __init__(self, lm):
        """lm: a recognizer.lm.WordFrequencyLM (its vocabulary and its configuration)."""
        cfg = lm.cfg
        words = lm.vocabulary.sorted_words
        hashes, lengths = _hash_strings(words)
        self.prefixes = np.unique(hashes[hashes != 0])  # every prefix of every word, sorted
        word_hashes = hashes[np.arange(len(words)), lengths - 1]
        order = np.argsort(word_hashes, kind="stable")
        self.word_hashes = word_hashes[order]
        frequencies = lm.vocabulary.frequency_array()[order]
        known = np.log(np.maximum(frequencies, cfg.floor) / cfg.reference)
        self.known_scores = cfg.weight * known + cfg.word_bonus
        self.unknown_score = cfg.weight * (cfg.unknown_offset + math.log(cfg.floor / cfg.reference)) + cfg.word_bonus
        self.neutral_score = cfg.word_bonus  # numbers, codes, punctuation
        self.dead_prefix = cfg.weight * cfg.unknown_offset

    def word_scores(self, state: np.ndarray, letters: np.ndarray) -> np.ndarray:
        """What finishing each word adds: its frequency prior if its letters are a vocabulary word,
        the unknown-word score if they are not, neutral if it is not a word of letters."""
        at = np.minimum(np.searchsorted(self.word_hashes, letters), len(self.word_hashes) - 1)
        found = self.word_hashes[at] == letters
        scores = np.where(found, self.known_scores[at], self.unknown_score)
        is_word = (state == _LETTERS) | (state == _TRAILING)
        return np.where(is_word, scores, self.neutral_score)

    def partial_scores(self, state: np.ndarray, letters: np.ndarray) -> np.ndarray:
        """The penalty for words being written that no vocabulary word starts with."""
        at = np.minimum(np.searchsorted(self.prefixes, letters), len(self.prefixes) - 1)
        dead = (state == _LETTERS) & (self.prefixes[at] != letters)
        return np.where(dead, self.dead_prefix, 0.0)


class NoPrior:
    """Beam search on the network's scores alone."""

    def word_scores(self, state: np.ndarray, letters: np.ndarray) -> np.ndarray:
        return np.zeros(len(state))

    def partial_scores(self, state: np.ndarray, letters: np.ndarray) -> np.ndarray:
        return np.zeros(len(state))


@dataclass
class _Beams:
    """One row per beam of every crop."""

    crop: np.ndarray  # int64
    score: np.ndarray  # CTC log-score (float64)
    last: np.ndarray  # last symbol's class (0: blank)
    written: np.ndarray  # hash of the text written so far ("a b" + " " + "c")
    text: np.ndarray  # hash of the finished words alone
    part_len: np.ndarray  # length of the word being written
    state: np.ndarray  # _EMPTY / _LETTERS / _TRAILING / _OTHER
    letters: np.ndarray  # hash of its case-folded letters
    prior: np.ndarray  # word prior of the finished words
    partial: np.ndarray  # penalty of the word being written (no vocabulary word starts so)


def _candidates(frames: list[np.ndarray], token_min_logp: float) -> tuple[np.ndarray, np.ndarray]:
    """Per crop, its frames' symbols to try: classes [B, T, K] (-1: none) and log-probs [B, T, K].

    A frame that offers only the symbol the previous frame alone offered is left out: every beam
    already ends in that symbol, so the frame adds the same log-probability to all of them and ranks
    nothing differently. A crop with fewer frames than the batch's longest gets frames that keep its
    beams as they are (class -2)."""
    lengths = np.array([len(f) for f in frames])
    steps = int(lengths.max())
    inside = np.arange(steps)[None, :] < lengths[:, None]  # [B, T]
    lp = np.zeros((len(frames), steps, frames[0].shape[1]), dtype=frames[0].dtype)
    for b, f in enumerate(frames):
        lp[b, : len(f)] = f
    # as pyctcdecode does: log_softmax (a no-op up to rounding on log-probs), clipped
    shifted = lp - lp.max(axis=2, keepdims=True)
    lp = np.clip(shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True)), _MIN_LOGP, 0)
    best = lp.argmax(axis=2)  # [B, T]
    above = lp >= token_min_logp
    np.put_along_axis(above, best[..., None], True, axis=2)
    single = above.sum(axis=2) == 1
    repeat = np.zeros_like(single)
    repeat[:, 1:] = single[:, 1:] & single[:, :-1] & (best[:, 1:] == best[:, :-1])
    kept = inside & ~repeat
    step = np.cumsum(kept, axis=1) - 1  # where each kept frame goes
    kept_steps = kept.sum(axis=1)
    tried = above & kept[..., None]
    width = int(tried.sum(axis=2).max())
    classes = np.full((len(frames), int(kept_steps.max()), width), -1, dtype=np.int64)
    classes[:, :, 0] = np.where(np.arange(classes.shape[1])[None, :] < kept_steps[:, None], -1, -2)
    logps = np.zeros(classes.shape)
    b_idx, t_idx, c_idx = np.nonzero(tried)  # each frame's classes in ascending order
    slot = (np.cumsum(tried, axis=2) - 1)[b_idx, t_idx, c_idx]
    classes[b_idx, step[b_idx, t_idx], slot] = c_idx
    logps[b_idx, step[b_idx, t_idx], slot] = lp[b_idx, t_idx, c_idx]
    return classes, logps


def _log_sum_by_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    peak = np.full(n_groups, -np.inf)
    np.maximum.at(peak, groups, values)
    return peak + np.log(np.bincount(groups, weights=np.exp(values - peak[groups]), minlength=n_groups))


def _best_per_crop(crop: np.ndarray, combined: np.ndarray, limits: SearchLimits) -> np.ndarray:
    """Rows kept: each crop's best `beam_width` within `prune_logp` of its best, by crop then score."""
    # by crop, then best first (scores lie within +-1e4: crop x 1e5 keeps crops apart)
    order = np.argsort(crop * 1e5 - combined)
    crop_sorted = crop[order]
    starts = np.flatnonzero(np.concatenate([[True], crop_sorted[1:] != crop_sorted[:-1]]))
    segment = np.repeat(starts, np.diff(np.concatenate([starts, [len(order)]])))
    rank = np.arange(len(order)) - segment
    best = combined[order][segment]
    keep = (rank < limits.beam_width) & (combined[order] >= best + limits.prune_logp)
    return order[keep]


class PrefixBeamSearch:
    def __init__(self, prior: VocabularyHashes | NoPrior, limits: SearchLimits = SearchLimits()):
        self.prior = prior
        self.limits = limits

    def decode(self, frames: list[np.ndarray]) -> list[list[tuple[str, float]]]:
        """[T_b, C] log-probs of each crop -> per crop, (text, combined score) of its final beams, best first."""
        if not frames:
            return []
        classes, logps = _candidates(frames, self.limits.token_min_logp)
        n_crops, steps, width = classes.shape
        zeros = np.zeros(n_crops, dtype=np.uint64)
        beams = _Beams(crop=np.arange(n_crops), score=np.zeros(n_crops), last=np.zeros(n_crops, dtype=np.int64),
                       written=zeros, text=zeros.copy(), part_len=np.zeros(n_crops, dtype=np.int64),
                       state=np.zeros(n_crops, dtype=np.int8), letters=zeros.copy(), prior=np.zeros(n_crops),
                       partial=np.zeros(n_crops))
        parents, emits = [], []
        with np.errstate(over="ignore"):
            for t in range(steps):
                beams, parent, emit = self._step(beams, classes[beams.crop, t], logps[beams.crop, t])
                parents.append(parent)
                emits.append(emit)
        return self._finish(beams, parents, emits, n_crops)

    def _step(self, beams: _Beams, classes: np.ndarray, logps: np.ndarray):
        """Extend every beam by its crop's candidates for this frame, merge, score, prune."""
        # extensions in pyctcdecode's order: symbol-major, then beam
        slot, p = np.nonzero(classes.T != -1)  # [N, K] -> [K, N] -> (slot, beam) of each extension
        c = classes[p, slot]
        last = beams.last[p]
        c = np.where(c == -2, last, c)  # a crop whose frames are used up keeps its beams
        same = c == last
        blank = (c == BLANK) & ~same
        space = (c == _SPACE) & ~same
        commit = space & (beams.part_len[p] > 0)  # a space after a word finishes it
        append = ~(same | blank | space)
        written = beams.written[p]
        new_written = np.where(append, written * _MULTIPLIER + c.astype(np.uint64),
                               np.where(commit, written * _MULTIPLIER + np.uint64(_SPACE), written))
        new_last = np.where(blank, BLANK, c)
        # merge equal beams (same crop, same text written, same last symbol): log-sum of their scores
        keys = (new_written * np.uint64(0x9E3779B97F4A7C15)) ^ (beams.crop[p].astype(np.uint64) << np.uint64(8)) \
            ^ new_last.astype(np.uint64)
        first, group = np.unique(keys, return_index=True, return_inverse=True)[1:]
        score = _log_sum_by_group(beams.score[p] + logps[p, slot], group, len(first))
        # the rest follows from each merged beam's first extension alone
        p, c, append, commit = p[first], c[first], append[first], commit[first]
        old_state = beams.state[p]
        state = np.where(append, _NEXT_STATE[old_state, _KIND[c]], np.where(commit, _EMPTY, old_state))
        letter_step = append & (state == _LETTERS)
        letters = np.where(letter_step, beams.letters[p] * _MULTIPLIER + _LOWER[c],
                           np.where(commit, np.uint64(0), beams.letters[p]))
        prior = beams.prior[p]
        at = np.flatnonzero(commit)
        if len(at):
            prior[at] += self.prior.word_scores(old_state[at], beams.letters[p[at]])
        partial = np.where(state == _LETTERS, beams.partial[p], 0.0)
        # only a word that got a letter can have stopped being the start of a vocabulary word
        at = np.flatnonzero(letter_step)
        partial[at] = self.prior.partial_scores(state[at], letters[at])
        crop = beams.crop[p]
        kept = _best_per_crop(crop, score + prior + partial, self.limits)
        merged = _Beams(crop=crop[kept], score=score[kept], last=new_last[first[kept]],
                        written=new_written[first[kept]], text=np.where(commit, beams.written[p], beams.text[p])[kept],
                        part_len=np.where(append, beams.part_len[p] + 1, np.where(commit, 0, beams.part_len[p]))[kept],
                        state=state[kept], letters=letters[kept], prior=prior[kept], partial=partial[kept])
        emit = np.where(append, c, np.where(commit, _SPACE, -1))
        return merged, p[kept], emit[kept]

    def _finish(self, beams: _Beams, parents: list[np.ndarray], emits: list[np.ndarray],
                n_crops: int) -> list[list[tuple[str, float]]]:
        """End every word being written, merge beams that now read the same, keep the best, spell them."""
        has_part = beams.part_len > 0
        final_key = np.where(has_part, beams.written, beams.text)
        prior = beams.prior.copy()
        at = np.flatnonzero(has_part)
        prior[at] += self.prior.word_scores(beams.state[at], beams.letters[at])
        keys = (final_key * np.uint64(0x9E3779B97F4A7C15)) ^ beams.crop.astype(np.uint64)
        first, group = np.unique(keys, return_index=True, return_inverse=True)[1:]
        score = _log_sum_by_group(beams.score, group, len(first))
        crop = beams.crop[first]
        combined = score + prior[first]
        kept = _best_per_crop(crop, combined, self.limits)
        texts = self._spell(first[kept], parents, emits)
        out: list[list[tuple[str, float]]] = [[] for _ in range(n_crops)]
        for b, text, s in zip(crop[kept].tolist(), texts, combined[kept].tolist()):
            out[b].append((" ".join(text.split()), s))
        return out

    @staticmethod
    def _spell(rows: np.ndarray, parents: list[np.ndarray], emits: list[np.ndarray]) -> list[str]:
        """The texts of the final beams `rows`, from what each step appended."""
        codes = np.full((len(rows), len(parents)), -1, dtype=np.int64)
        at = rows
        for t in range(len(parents) - 1, -1, -1):
            codes[:, t] = emits[t][at]
            at = parents[t][at]
        # class -> ASCII byte, nothing -> NUL, dropped when the row is read as a string
        text = np.where(codes > 0, codes + 31, 0).astype(np.uint8).tobytes()
        n = codes.shape[1]
        return [text[i * n:(i + 1) * n].replace(b"\0", b"").decode("ascii") for i in range(len(rows))]

"""A word-frequency language model for pyctcdecode's beam search (shallow fusion).

Notes are written in capitals as often as not, and words carry punctuation ("budget:", "(Q3)").
An n-gram model over raw tokens would call "BUDGET" and "budget," unknown, so this one scores
the case-folded core of each token by its English frequency (`wordfreq`), and treats tokens with
digits or symbols (dates, money, codes) as neutral rather than unknown. It is a unigram model: the
crops are single words or short phrases, where word order carries little.

Why not kenlm with an ARPA file: kenlm matches tokens exactly, so it would need every case and
punctuation variant of every word in the file, and it adds a compiled dependency for what is a
dictionary lookup here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from pyctcdecode.language_model import AbstractLanguageModel

_PUNCTUATION = ".,:;!?()[]{}\"'`*-_/#&+<>=~|"


@dataclass(frozen=True)
class WordLMConfig:
    weight: float = 0.3  # alpha: weight of ln P(word) against the network's log-probabilities
    word_bonus: float = 0.0  # beta: added per word; >0 counters a bias towards merging words in phrases
    unknown_offset: float = -4.0  # extra ln-score for a letter word not in the vocabulary (names, misspellings)
    vocabulary_size: int = 100_000
    floor: float = 1e-8  # frequency of the rarest vocabulary word we assume
    # Frequencies are taken relative to this typical-word frequency, so that a number or a code
    # (scored 0, neutral) is neither favoured nor penalised against an ordinary word.
    reference: float = 1e-6


@lru_cache(maxsize=4)
def _vocabulary(size: int) -> tuple[dict[str, float], frozenset[str]]:
    from wordfreq import get_frequency_dict, top_n_list

    # One dictionary read (~0.5 s) instead of a word_frequency() call per word (~4 s for 100k).
    all_freqs = get_frequency_dict("en")
    words = [w for w in top_n_list("en", size) if w.isalpha() and w in all_freqs]
    freqs = {w: all_freqs[w] for w in words}
    prefixes = frozenset(w[:k] for w in words for k in range(1, len(w) + 1))
    return freqs, prefixes


def token_core(token: str) -> str:
    """'(Budget:' -> 'budget'; the part of a token the vocabulary knows about."""
    return token.strip(_PUNCTUATION).lower()


class WordFrequencyLM(AbstractLanguageModel):
    def __init__(self, cfg: WordLMConfig = WordLMConfig()):
        self.cfg = cfg
        self.freqs, self.prefixes = _vocabulary(cfg.vocabulary_size)

    @property
    def order(self) -> int:
        return 1

    def get_start_state(self) -> list:
        return []

    def log_prob(self, token: str) -> float:
        """ln(P(token) / P(typical word)) for letter words; 0 (neutral) for numbers, codes, punctuation."""
        core = token_core(token)
        if not core.isalpha():
            return 0.0
        freq = self.freqs.get(core)
        if freq is None:
            return self.cfg.unknown_offset + math.log(self.cfg.floor / self.cfg.reference)
        return math.log(max(freq, self.cfg.floor) / self.cfg.reference)

    def score_partial_token(self, partial_token: str) -> float:
        # A half-written word that cannot become a vocabulary word pays the unknown offset early,
        # so the beam keeps room for readings that can.
        core = partial_token.lstrip(_PUNCTUATION).lower()
        if not core or not core.isalpha() or core in self.prefixes:
            return 0.0
        return self.cfg.weight * self.cfg.unknown_offset

    def score(self, prev_state, word: str, is_last_word: bool = False) -> tuple[float, list]:
        return self.cfg.weight * self.log_prob(word) + self.cfg.word_bonus, prev_state

"""A word-frequency language model for the beam search (shallow fusion).

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

import bisect
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# stripped from a word's ends before it is looked up ("(Budget:" -> "budget")
PUNCTUATION = ".,:;!?()[]{}\"'`*-_/#&+<>=~|"

# The vocabulary, written once from wordfreq by `python -m recognizer.lm` (shipped, like the weights):
# reading 100k words from wordfreq took ~1 s of every `ocrsearch read` start, this file ~0.1 s.
# Three lines: a JSON header, the words in sorted order, their frequencies. Splitting two long
# lines is ~10x faster than parsing 94k "word<TAB>frequency" lines or a JSON object of them, and
# the bisection for prefixes gets its sorted list for free.
VOCABULARY_FILE = Path(__file__).resolve().parent / "weights" / "vocabulary-en.txt"


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


def _wordfreq_vocabulary(size: int) -> dict[str, float]:
    from wordfreq import get_frequency_dict, top_n_list

    # One dictionary read (~0.5 s) instead of a word_frequency() call per word (~4 s for 100k).
    all_freqs = get_frequency_dict("en")
    return {w: all_freqs[w] for w in top_n_list("en", size) if w.isalpha() and w in all_freqs}


def _source(size: int) -> str:
    import importlib.metadata

    return f"wordfreq {importlib.metadata.version('wordfreq')} en top {size}, alphabetic words"


def write_vocabulary(path: Path = VOCABULARY_FILE, size: int = 100_000) -> int:
    """Writes the vocabulary file the LM loads; returns the number of words."""
    freqs = _wordfreq_vocabulary(size)
    words = sorted(freqs)
    header = json.dumps({"source": _source(size), "size": size, "words": len(words)})
    path.write_text("\n".join([header, " ".join(words), " ".join(f"{freqs[w]:.6g}" for w in words)]) + "\n",
                    encoding="utf-8")
    return len(words)


class Vocabulary:
    """Words in sorted order with their frequencies: exact lookups and prefix tests by bisection.

    Frequencies stay the strings the file holds until a word is looked up: parsing all 94k floats
    and building a dict took ~70 ms of every cold `ocrsearch read`, and a page looks up a few hundred.
    """

    def __init__(self, sorted_words: list[str], frequencies: list[str] | list[float]):
        self.sorted_words = sorted_words
        self._frequencies = frequencies

    @classmethod
    def from_frequencies(cls, freqs: dict[str, float]) -> Vocabulary:
        words = sorted(freqs)
        return cls(words, [freqs[w] for w in words])

    def __len__(self) -> int:
        return len(self.sorted_words)

    def frequency(self, word: str) -> float | None:
        i = bisect.bisect_left(self.sorted_words, word)
        if i < len(self.sorted_words) and self.sorted_words[i] == word:
            return float(self._frequencies[i])
        return None

    def frequency_array(self) -> np.ndarray:
        """The frequencies of `sorted_words`, in their order (parses them all: ~20 ms)."""
        return np.array(self._frequencies, dtype=np.float64)

    def has_prefix(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.sorted_words, prefix)
        return i < len(self.sorted_words) and self.sorted_words[i].startswith(prefix)


def _read_vocabulary(path: Path, size: int) -> Vocabulary | None:
    """The shipped vocabulary, or None when it is missing or was written for another size."""
    if not path.exists():
        return None
    header, words, freqs = path.read_text(encoding="utf-8").split("\n")[:3]
    if json.loads(header).get("size") != size:
        return None
    return Vocabulary(words.split(" "), freqs.split(" "))


@lru_cache(maxsize=4)
def load_vocabulary(size: int = 100_000) -> Vocabulary:
    """The English vocabulary with word frequencies (the shipped file; wordfreq if it is absent)."""
    shipped = _read_vocabulary(VOCABULARY_FILE, size)
    if shipped is not None:
        return shipped
    return Vocabulary.from_frequencies(_wordfreq_vocabulary(size))


def token_core(token: str) -> str:
    """'(Budget:' -> 'budget'; the part of a token the vocabulary knows about."""
    return token.strip(PUNCTUATION).lower()


class WordFrequencyLM:
    """The prior recognizer/ctc_beam.py adds to beams: `word_score` for a finished word,
    `score_partial_token` for a word being written (pyctcdecode's names for the same two scores)."""

    def __init__(self, cfg: WordLMConfig = WordLMConfig()):
        self.cfg = cfg
        self.vocabulary = load_vocabulary(cfg.vocabulary_size)

    def log_prob(self, token: str) -> float:
        """ln(P(token) / P(typical word)) for letter words; 0 (neutral) for numbers, codes, punctuation."""
        core = token_core(token)
        if not core.isalpha():
            return 0.0
        freq = self.vocabulary.frequency(core)
        if freq is None:
            return self.cfg.unknown_offset + math.log(self.cfg.floor / self.cfg.reference)
        return math.log(max(freq, self.cfg.floor) / self.cfg.reference)

    def score_partial_token(self, partial_token: str) -> float:
        # A half-written word that cannot become a vocabulary word pays the unknown offset early,
        # so the beam keeps room for readings that can.
        core = partial_token.lstrip(PUNCTUATION).lower()
        if not core or not core.isalpha() or self.vocabulary.has_prefix(core):
            return 0.0
        return self.cfg.weight * self.cfg.unknown_offset

    def word_score(self, word: str) -> float:
        """What finishing `word` adds to a beam's score."""
        return self.cfg.weight * self.log_prob(word) + self.cfg.word_bonus


if __name__ == "__main__":
    count = write_vocabulary()
    print(f"{VOCABULARY_FILE}: {count} words")

"""pyctcdecode, set up to run the beam search recognizer/ctc_beam.py runs: the reference that tests
and bench/beam_search_speed.py compare ours with. pyctcdecode is a test dependency, not needed to read."""

from __future__ import annotations

from pyctcdecode import BeamSearchDecoderCTC
from pyctcdecode.alphabet import Alphabet
from pyctcdecode.language_model import AbstractLanguageModel

from recognizer.charset import ALPHABET
from recognizer.lm import WordFrequencyLM


class AsPyctcdecodeLM(AbstractLanguageModel):
    """Our word prior behind pyctcdecode's language-model interface (a unigram: no state)."""

    def __init__(self, lm: WordFrequencyLM):
        self.lm = lm

    @property
    def order(self) -> int:
        return 1

    def get_start_state(self) -> list:
        return []

    def score_partial_token(self, partial_token: str) -> float:
        return self.lm.score_partial_token(partial_token)

    def score(self, prev_state, word: str, is_last_word: bool = False):
        return self.lm.word_score(word), prev_state


def reference_decoder(lm: WordFrequencyLM | None) -> BeamSearchDecoderCTC:
    """pyctcdecode over our alphabet (blank first), with our word prior or none."""
    return BeamSearchDecoderCTC(Alphabet.build_alphabet([""] + list(ALPHABET)), AsPyctcdecodeLM(lm) if lm else None)

"""Lexicon alternates: CTC likelihoods of dictionary words over a crop's frames (recognizer/lexicon.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ocrsearch.types import Reading
from recognizer.charset import ALPHABET, BLANK, NUM_CLASSES
from recognizer.lexicon import LexiconAlternates, LexiconConfig, ctc_log_likelihoods, edit_budget, fold_case
from recognizer.lm import Vocabulary, WordFrequencyLM, WordLMConfig


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], None
    for k in path:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return tuple(out)


def test_ctc_likelihood_sums_every_alignment() -> None:
    """Against brute force: the sum over all 27^T frame paths that collapse to the word."""
    rng = np.random.default_rng(3)
    frames = 4
    probs = rng.dirichlet(np.ones(27) * 0.3, size=frames)  # [T, 27]
    words = ["ab", "aa", "c", "abc"]
    expected = []
    for word in words:
        target = tuple(ord(c) - 96 for c in word)
        total = sum(math.prod(probs[t, k] for t, k in enumerate(path))
                    for path in itertools.product(range(27), repeat=frames) if _collapse(path) == target)
        expected.append(math.log(total))
    assert ctc_log_likelihoods(probs, words) == pytest.approx(expected, rel=1e-9)


def test_a_word_longer_than_the_frames_allow_is_impossible() -> None:
    probs = np.full((3, 27), 1 / 27)
    [too_long, fits] = ctc_log_likelihoods(probs, ["aaa", "abc"])  # "aaa" needs 5 frames
    assert too_long < -500 and fits == pytest.approx(3 * math.log(1 / 27))


def test_case_folding_adds_capital_and_small_letter() -> None:
    log_probs = np.full((1, NUM_CLASSES), -30.0)
    log_probs[0, ALPHABET.index("B") + 1] = math.log(0.3)
    log_probs[0, ALPHABET.index("b") + 1] = math.log(0.2)
    log_probs[0, BLANK] = math.log(0.5)
    folded = fold_case(log_probs)
    assert folded.shape == (1, 27)
    assert folded[0, 2] == pytest.approx(0.5) and folded[0, 0] == pytest.approx(0.5)


def test_edit_budget_grows_with_length() -> None:
    cfg = LexiconConfig()
    assert [edit_budget(n, cfg) for n in (3, 4, 5, 7, 8, 12)] == [0, 1, 2, 2, 3, 3]


def _frames_spelling(text: str, sure: float, frames_per_letter: int = 2) -> np.ndarray:
    """[T, C] log-probs that spell `text` letter by letter, each letter frame `sure` of its mass."""
    rows = []
    rest = (1 - sure) / (NUM_CLASSES - 1)
    for ch in text:
        for _ in range(frames_per_letter):
            row = np.full(NUM_CLASSES, rest)
            row[ALPHABET.index(ch) + 1] = sure
            rows.append(row)
        blank = np.full(NUM_CLASSES, rest)
        blank[BLANK] = sure
        rows.append(blank)
    return np.log(np.array(rows))


def test_a_dictionary_word_the_frames_nearly_spell_becomes_an_alternate() -> None:
    """Frames that spell "sincerelx" support "sincerely" (one letter unsure), not "sincere"; a
    sure reading keeps its readings as they are."""
    lm = WordFrequencyLM(WordLMConfig(weight=0.4))
    lm.vocabulary = Vocabulary.from_frequencies({"sincerely": 1e-5, "sincere": 1e-5, "tincture": 1e-6})
    frames = _frames_spelling("sincerelx", sure=0.9)
    frames[-3:-1, ALPHABET.index("y") + 1] = np.log(0.3)  # the last letter is nearly as much a "y"
    lexicon = LexiconAlternates(lm, LexiconConfig(below_confidence=0.9, margin=3.0))
    unsure = lexicon.extend(Reading("sincerelx", 0.5), frames)
    assert [t for t, _ in unsure.alternates] == ["sincerely"]
    assert 0 < unsure.alternates[0][1] <= 0.5
    assert lexicon.extend(Reading("sincerelx", 0.95), frames).alternates == []


def test_beam_decoder_adds_a_word_its_beam_lost() -> None:
    """Frames spelling "anythng", with a faint "i" where the cursive folded it into the h: too faint
    for the beam, which prunes characters below e^-5 per frame, while the CTC score of "anything"
    over all alignments, with its word prior, stays within the margin of "anythng"."""
    from recognizer.decode import BeamConfig, BeamDecoder

    frames = _frames_spelling("anythng", sure=0.9)
    i_frame = 3 * 4 + 2  # the blank after the h
    frames[i_frame, ALPHABET.index("i") + 1] = np.log(0.001)
    lengths = np.array([frames.shape[0]])
    plain = BeamDecoder(BeamConfig()).decode(frames[:, None], lengths)[0]
    lexical = BeamDecoder(BeamConfig(lexicon=LexiconConfig())).decode(frames[:, None], lengths)[0]
    assert "anything" not in [plain.text.lower()] + [t.lower() for t, _ in plain.alternates]
    assert "anything" in [t for t, _ in lexical.alternates]
    assert lexical.text == plain.text


def test_a_batch_of_readings_gets_what_each_would_get_alone() -> None:
    """`extend_all` looks up every crop's neighbours in one pass over the vocabulary; each reading
    still gets exactly its own alternates, whatever its length (edit budget) and confidence."""
    lm = WordFrequencyLM(WordLMConfig(weight=0.4))
    lexicon = LexiconAlternates(lm, LexiconConfig(below_confidence=0.9))
    cases = [("sincerelx", 0.5), ("anythng", 0.4), ("budgat", 0.3), ("12:45", 0.2), ("thn", 0.3),
             ("meetinq", 0.95), ("tomorrov", 0.6)]
    readings = [Reading(text, conf, [(text[:-1] + "e", conf / 2)]) for text, conf in cases]
    frames = [_frames_spelling(text, sure=0.4) for text, _ in cases]
    alone = [lexicon.extend(r, f) for r, f in zip(readings, frames)]
    together = lexicon.extend_all(readings, frames)
    assert together == alone
    assert sum(len(r.alternates) > 1 for r in together) >= 3  # the batch did add words

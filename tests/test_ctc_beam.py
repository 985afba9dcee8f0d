"""Our CTC prefix beam search keeps the beams pyctcdecode keeps, with the same scores, on the shipped
recognizer's frames for rendered words and phrases and on noisy frames that branch a lot."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer import Recognizer
from recognizer.charset import ALPHABET, BLANK, NUM_CLASSES
from recognizer.ctc_beam import NoPrior, PrefixBeamSearch, SearchLimits, VocabularyHashes, _candidates
from recognizer.decode import compress_blank_runs
from recognizer.infer import output_lengths
from recognizer.lm import WordFrequencyLM, WordLMConfig
from recognizer.preprocess import collate_strips, to_gray_strip
from recognizer.pyctcdecode_reference import reference_decoder
from tests.test_recognizer import word_image


def shipped_frames(texts: list[str], noise: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """[T, C] log-probs of the shipped recognizer for each rendered text (optionally with pixel noise)."""
    rng = np.random.default_rng(seed)
    crops = []
    for text in texts:
        crop = word_image(text, scale=0.9).astype(np.float32)
        crop += rng.normal(0, noise, crop.shape)
        crops.append(np.clip(crop, 0, 255).astype(np.uint8))
    recognizer = Recognizer.load()
    images, widths = collate_strips([to_gray_strip(c) for c in crops], right_margin=16)
    log_probs = recognizer.forward(images)  # [T, B, C]
    lengths = np.minimum(output_lengths(widths), log_probs.shape[0])
    return [log_probs[: lengths[b], b] for b in range(len(crops))]


def branching_frames(length: int, rng: np.random.Generator) -> np.ndarray:
    """Frames where a few symbols (letters, space, blank) compete: many beams, merges and words."""
    logits = rng.normal(0, 1, (length, NUM_CLASSES)) - 8.0
    pool = [BLANK] + [ALPHABET.index(c) + 1 for c in " aeinorstuv"]
    for t in range(length):
        logits[t, rng.choice(pool, 3, replace=False)] = rng.normal(2.0, 1.5, 3)
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def compare(frames: list[np.ndarray], lm: WordFrequencyLM | None, beam_width: int = 16) -> None:
    """Our search on a batch of crops keeps, for each, pyctcdecode's beams with pyctcdecode's scores."""
    reference = reference_decoder(lm)
    ours = PrefixBeamSearch(VocabularyHashes(lm) if lm else NoPrior(), SearchLimits(beam_width=beam_width))
    for crop_frames, got in zip(frames, ours.decode(frames)):
        expected = [(text, combined) for text, _, _, _, combined in reference.decode_beams(crop_frames, beam_width=beam_width)]
        assert [t for t, _ in got] == [t for t, _ in expected]
        # frames that repeat a lone symbol are skipped, which shifts every score by the same amount
        shift = got[0][1] - expected[0][1]
        assert [s - shift for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-4)


@pytest.mark.parametrize("with_lm", [True, False])
def test_same_beams_as_pyctcdecode_on_the_shipped_recognizer(with_lm):
    lm = WordFrequencyLM(WordLMConfig(weight=0.4)) if with_lm else None
    texts = ["budget", "Meeting notes", "Q3 plan: 12/04", "sincerely", "rn vs m"]
    for noise in (0.0, 60.0):
        frames = shipped_frames(texts, noise=noise)
        compare(frames, lm)
        compare([compress_blank_runs(f, np.log(0.995)) for f in frames], lm)


def test_same_beams_as_pyctcdecode_when_many_readings_compete():
    rng = np.random.default_rng(7)
    lm = WordFrequencyLM(WordLMConfig(weight=0.4))
    crops = [branching_frames(length, rng) for length in (1, 5, 20, 40, 33, 2)]
    compare(crops, lm, beam_width=8)
    compare(crops, None, beam_width=16)
    for crop in crops[:4]:  # alone, as in a batch of one
        compare([crop], lm, beam_width=8)


def test_frames_repeating_a_lone_symbol_are_skipped():
    """A frame offering only what the previous frame alone offered adds nothing a beam could differ in."""
    lp = np.full((5, NUM_CLASSES), -20.0)
    a, b = ALPHABET.index("a") + 1, ALPHABET.index("b") + 1
    lp[0, a] = lp[1, a] = 0.0  # 'a' alone, twice
    lp[2, [a, b]] = np.log(0.5)  # a choice: kept
    lp[3, BLANK] = lp[4, BLANK] = 0.0  # blank alone, twice
    classes, _ = _candidates([lp, lp[:2]], token_min_logp=-5.0)  # [B, T, K]
    assert classes[0].tolist() == [[a, -1], [a, b], [BLANK, -1]]
    # the shorter crop's beams are kept as they are (-2) once its frames are used up
    assert classes[1].tolist() == [[a, -1], [-2, -1], [-2, -1]]

"""CTC decoding: vectorised greedy, and beam search with n-best alternates.

The beam search is recognizer/ctc_beam.py: pyctcdecode's search for a one-word language model, run
on a whole batch of crops with array operations (same beams and scores, ~5x faster); tests check it
against pyctcdecode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ocrsearch.types import Reading
from recognizer.charset import ALPHABET, BLANK
from recognizer.lexicon import LexiconAlternates, LexiconConfig


def as_numpy(array) -> np.ndarray:
    """A numpy array, or a torch tensor (training hands those in) copied to the host."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def greedy_decode(log_probs, lengths) -> list[Reading]:
    """log_probs [T, B, C], lengths [B] (numpy arrays or torch tensors) -> best-path readings.

    Confidence is the geometric mean of the best path's per-frame probabilities over the frames
    that emit a character, so a single unsure letter pulls it down."""
    log_probs = as_numpy(log_probs)
    best = log_probs.argmax(axis=-1).T  # [T, B] -> [B, T]
    best_lp = np.take_along_axis(log_probs, best.T[..., None], axis=-1)[..., 0].T  # [B, T]
    T = best.shape[1]
    valid = np.arange(T)[None, :] < as_numpy(lengths)[:, None]
    prev = np.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=BLANK)
    emit = (best != BLANK) & (best != prev) & valid  # [B, T]
    readings = []
    for b in range(best.shape[0]):
        idx = best[b][emit[b]].tolist()
        text = "".join(ALPHABET[i - 1] for i in idx)
        if idx:
            conf = math.exp(float(best_lp[b][emit[b]].mean()))
        else:
            conf = math.exp(float(best_lp[b][valid[b]].mean())) if valid[b].any() else 0.0
        readings.append(Reading(text.strip(), conf))
    return readings


@dataclass
class BeamConfig:
    beam_width: int = 16
    n_best: int = 10
    # Alternates are kept while their score is within this margin (natural log) of the best one.
    # 10 / 6.0 (was 5 / 4.0): on our val pages (pages-bin-val2+3, 1991 queries) 320 -> 314 missed,
    # and no more false hits for 800 queries of words on none of the photos (6.6% either way, all
    # of them fuzzy matches of 1-best words).
    margin: float = 6.0
    # Weight of the word-frequency language model fused into the beam search (0 = off); see
    # recognizer/lm.py. Words outside the vocabulary (names, codes, numbers) are not ruled out.
    # 0.4 was best of 0.2/0.4/0.7 on our held-out-font words (bench/decoding.py).
    lm_weight: float = 0.4
    # Runs of frames that are all but certainly blank (ln P(blank) above this) are merged into one
    # frame before the beam search: it changes no reading and halves the Python work per crop.
    blank_merge_logp: float = math.log(0.995)
    # Vocabulary words near the readings that the frames support are added as alternates
    # (recognizer/lexicon.py); None: off. Needs the word LM (lm_weight > 0).
    lexicon: LexiconConfig | None = None


def crop_frames(log_probs, lengths) -> list[np.ndarray]:
    """[T, B, C] log-probs (numpy or torch) and lengths [B] -> each crop's [T_b, C] frames."""
    lp = as_numpy(log_probs)
    return [lp[: int(n), b] for b, n in enumerate(as_numpy(lengths))]


def compress_blank_runs(frames: np.ndarray, threshold: float) -> np.ndarray:
    """[T, C] log-probs -> [T', C] with each run of sure-blank frames cut to its first frame."""
    sure_blank = frames[:, BLANK] > threshold  # [T]
    keep = ~(sure_blank & np.concatenate([[False], sure_blank[:-1]]))
    return frames[keep]


class BeamDecoder:
    def __init__(self, cfg: BeamConfig | None = None):
        from recognizer.ctc_beam import NoPrior, PrefixBeamSearch, SearchLimits, VocabularyHashes

        self.cfg = cfg or BeamConfig()
        limits = SearchLimits(beam_width=self.cfg.beam_width)
        self.lexicon = None
        if self.cfg.lm_weight > 0:
            from recognizer.lm import WordFrequencyLM, WordLMConfig

            lm = WordFrequencyLM(WordLMConfig(weight=self.cfg.lm_weight))
            self.search = PrefixBeamSearch(VocabularyHashes(lm), limits)
            self.lexicon = LexiconAlternates(lm, self.cfg.lexicon) if self.cfg.lexicon else None
        else:
            self.search = PrefixBeamSearch(NoPrior(), limits)

    def decode(self, log_probs, lengths) -> list[Reading]:
        """log_probs [T, B, C] (numpy or torch) -> readings with n-best alternates inside the score margin."""
        frames = crop_frames(log_probs, lengths)
        return self.with_lexicon(self.readings(frames), frames)

    def with_lexicon(self, readings: list[Reading], frames: list[np.ndarray]) -> list[Reading]:
        """The readings with the vocabulary words their frames support added (when configured).
        One call for all the crops of a photo is cheaper than one per batch (recognizer/lexicon.py)."""
        return self.lexicon.extend_all(readings, frames) if self.lexicon else readings

    def readings(self, frames: list[np.ndarray]) -> list[Reading]:
        """[T_b, C] log-probs of each crop -> its beam readings (no lexicon words yet)."""
        all_beams = self.search.decode([compress_blank_runs(f, self.cfg.blank_merge_logp) for f in frames])
        readings = []
        for crop_frames, beams in zip(frames, all_beams):
            scored: dict[str, float] = {}
            for text, combined in beams:
                text = text.strip()
                if text not in scored:
                    scored[text] = combined
            if not scored:
                readings.append(Reading("", 0.0))
                continue
            items = sorted(scored.items(), key=lambda kv: -kv[1])
            best_score = items[0][1]
            kept = [(t, s) for t, s in items if best_score - s <= self.cfg.margin][: self.cfg.n_best]
            z = np.logaddexp.reduce([s for _, s in kept])
            confs = [(t, float(math.exp(s - z))) for t, s in kept]
            # The top beam's confidence also reflects how sure the frames were, as greedy's does.
            frame_conf = float(np.exp(crop_frames.max(axis=-1).mean()))
            text0, share0 = confs[0]
            readings.append(Reading(text0, share0 * frame_conf, [(t, c * frame_conf) for t, c in confs[1:]]))
        return readings

"""The recognizer the pipeline uses: crops in, readings out, in width-sorted batches.

The network runs with ONNX Runtime when an export of the weights sits beside them
(recognizer.onnx next to recognizer.pt, made by `ocrsearch export recognizer`), else with torch.
Nothing here imports torch, so reading a photo with the shipped weights never pays for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocrsearch.types import Reading
from recognizer.decode import BeamConfig, BeamDecoder, crop_frames, greedy_decode
from recognizer.preprocess import collate_strips, stretch_width, to_gray_strip, trim_margins

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "recognizer.pt"
BACKENDS = ("auto", "onnx", "torch")

# [B, 1, H, W] float32 -> [T, B, C] log-probabilities
Forward = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Stretch:
    """One more way to read an unsure crop: its strip `factor` times as wide; made from the whole
    crop when `untrimmed`, else from what the first reading read (trimmed with trim_margins)."""

    factor: float
    untrimmed: bool = False


@dataclass
class RecognizerConfig:
    decoder: str = "greedy"  # or "beam"
    batch_size: int = 64  # at most this many crops per forward pass
    # What one more forward pass costs, in padded crop-columns of work (fixed per-call costs of the
    # LSTM and the convolutions): batches split where the padding saved exceeds it.
    batch_overhead_columns: int = 256
    # Background columns after the widest crop of a batch. The backward LSTM reads a word's end
    # better with some empty board after it, as it saw in padded training batches: CER on synth-dev
    # 0.0675 -> 0.0643 and on held-out fonts 0.170 -> 0.165 (greedy), for 10-25% of the speed.
    right_margin_columns: int = 16
    # Cut each crop's empty rows above and below the writing before reading it
    # (preprocess.trim_margins): loose crops shrink the writing in the 32 px strip.
    trim_margins: bool = False
    # Crops read with less confidence than this are read again once per `stretches` entry, and
    # the most confident reading is kept; 0: off. Printed words read better wider (narrow letters
    # get more CTC frames), 1905 cursive narrower. Chosen on our own sets (session 24, runs of
    # `ocrsearch eval recognizer --decoder beam`), CER read once / session 23's re-reads (untrimmed,
    # x1.25 and x1.5 below 0.5) / trim_margins and these below 0.5: renders of the Debian families
    # (`ocrsearch data words --source debian --seed 912`) 0.062 / 0.051 / 0.047, of all training
    # families (seed 913) 0.086 / 0.072 / 0.069, of held-out families (seed 914) 0.174 / 0.157 /
    # 0.148; our detector's crops of val2 pages 0.070 / 0.072 / 0.068; stanford1905 tune
    # validation lines 0.410 / 0.406 / 0.388 and word crops (p0016, p0025) 0.473 / 0.512 / 0.426.
    stretch_below: float = 0.0
    stretches: tuple[Stretch, ...] = (Stretch(0.9), Stretch(1.25), Stretch(1.5), Stretch(1.0, untrimmed=True))
    # Strips wider than this (lines: 32 px high, 8x as wide) are not read wider: stretched,
    # stanford1905 tune lines read worse
    stretch_max_width: int = 256
    beam: BeamConfig | None = None


def output_lengths(widths: np.ndarray) -> np.ndarray:
    """Sequence length the CRNN emits for input widths (two 2x poolings along W; CRNN.output_lengths)."""
    return np.maximum(np.asarray(widths) // 4, 1)


def width_batches(widths: list[int], max_batch: int, overhead_columns: int) -> list[np.ndarray]:
    """Groups crop indices into batches of similar width, minimising the padded columns computed
    (each batch pads to its widest crop) plus `overhead_columns` per batch (dynamic programming
    over the width-sorted crops)."""
    order = np.argsort(widths, kind="stable")
    sorted_widths = np.asarray(widths, dtype=np.int64)[order]
    n = len(order)
    cost = np.zeros(n + 1)  # cost[j]: cheapest batching of the j narrowest crops
    cut = np.zeros(n + 1, dtype=np.int64)  # where the last batch of that batching starts
    for end in range(1, n + 1):
        starts = np.arange(max(0, end - max_batch), end)
        totals = cost[starts] + overhead_columns + (end - starts) * sorted_widths[end - 1]
        best = int(np.argmin(totals))
        cost[end], cut[end] = totals[best], starts[best]
    batches = []
    end = n
    while end > 0:
        batches.append(order[cut[end]:end])
        end = int(cut[end])
    return batches[::-1]


class Recognizer:
    def __init__(self, model, cfg: RecognizerConfig | None = None, version: str = "untrained"):
        """`model`: a CRNN (torch nn.Module, e.g. one being trained) or a ready forward function."""
        if hasattr(model, "state_dict"):
            from recognizer.torch_forward import TorchForward

            model = TorchForward(model)
        self.forward: Forward = model
        self.cfg = cfg or RecognizerConfig()
        self.version = version
        self._beam: BeamDecoder | None = None

    @classmethod
    def load(cls, weights: str | Path | None = None, decoder: str = "greedy", batch_size: int = 64,
             beam: BeamConfig | None = None, backend: str = "auto", threads: int = 0,
             stretch_below: float = 0.0, trim_margins: bool = False) -> Recognizer:
        """Load shipped (or given) weights: a .pt checkpoint, or its .onnx export.

        backend "auto" runs X.onnx when it was exported from X.pt (or X.pt is absent), else X.pt
        with torch; "onnx" and "torch" insist. `threads`: ONNX Runtime's threads (0: one per core;
        torch keeps its process-wide setting). Raises FileNotFoundError naming the path if absent."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown recognizer backend {backend!r} ({', '.join(BACKENDS)})")
        cfg = RecognizerConfig(decoder=decoder, batch_size=batch_size, beam=beam, stretch_below=stretch_below,
                               trim_margins=trim_margins)
        path = Path(weights) if weights else DEFAULT_WEIGHTS
        onnx_path = path.with_suffix(".onnx")
        if backend != "torch" and onnx_path.exists():
            forward = _onnx_forward(onnx_path, path, strict=backend == "onnx", threads=threads)
            if forward is not None:
                return cls(forward, cfg, forward.version).with_decoder_ready()
        if backend == "onnx" or path.suffix == ".onnx":
            raise FileNotFoundError(f"{onnx_path}: recognizer ONNX export not found (make it with `ocrsearch export recognizer`)")
        if not path.exists():
            raise FileNotFoundError(f"{path}: recognizer weights not found (train with `ocrsearch train recognizer`)")
        from recognizer.torch_forward import load_checkpoint

        model, version = load_checkpoint(path)
        return cls(model, cfg, version).with_decoder_ready()

    def with_decoder_ready(self) -> Recognizer:
        """Builds the beam decoder now (reading and hashing the LM vocabulary, ~0.2 s) rather than at the first
        crop: a recognizer loading in a background thread then pays for it off the photo's path."""
        if self.cfg.decoder == "beam" and self._beam is None:
            self._beam = BeamDecoder(self.cfg.beam)
        return self

    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        """Upright crops (RGB or gray uint8) -> one Reading each, in input order."""
        if not crops:
            return []
        trimmed = [trim_margins(c) for c in crops] if self.cfg.trim_margins else crops
        strips = [to_gray_strip(c) for c in trimmed]
        readings, frames = self._read_strips(strips)
        if self.cfg.stretch_below > 0:
            unsure = [i for i, r in enumerate(readings) if r.confidence < self.cfg.stretch_below]
            for stretch in self.cfg.stretches:
                whole = stretch.untrimmed and self.cfg.trim_margins
                if stretch.factor == 1.0 and not whole:
                    continue  # that is the first reading
                again = [i for i in unsure if stretch.factor <= 1.0 or strips[i].shape[1] <= self.cfg.stretch_max_width]
                variants = [to_gray_strip(crops[i]) if whole else strips[i] for i in again]
                if stretch.factor != 1.0:
                    variants = [stretch_width(v, stretch.factor) for v in variants]
                for i, reading, f in zip(again, *self._read_strips(variants)):
                    if reading.confidence > readings[i].confidence:
                        readings[i], frames[i] = reading, f
        if self._beam is not None:  # the lexicon looks up the neighbours of all the crops' readings at once
            readings = self._beam.with_lexicon(readings, frames)  # type: ignore[arg-type]
        return readings

    def _read_strips(self, strips: list[np.ndarray]) -> tuple[list[Reading], list[np.ndarray | None]]:
        """Gray strips -> readings (no lexicon words yet) and, with beam decoding, each crop's
        [T, C] log-probabilities for the lexicon."""
        readings: list[Reading | None] = [None] * len(strips)
        frames: list[np.ndarray | None] = [None] * len(strips)
        if not strips:
            return [], []
        beam = self.with_decoder_ready()._beam
        for idx in width_batches([s.shape[1] for s in strips], self.cfg.batch_size, self.cfg.batch_overhead_columns):
            # background (0) columns after the widest crop
            images, widths = collate_strips([strips[i] for i in idx], right_margin=self.cfg.right_margin_columns)
            log_probs = self.forward(images)  # [B, 1, H, W] -> [T, B, C]
            lengths = np.minimum(output_lengths(widths), log_probs.shape[0])
            if beam is None:
                batch_readings = greedy_decode(log_probs, lengths)
            else:
                batch_frames = crop_frames(log_probs, lengths)
                batch_readings = beam.readings(batch_frames)
                for i, f in zip(idx, batch_frames):
                    frames[i] = f
            for i, reading in zip(idx, batch_readings):
                readings[i] = reading
        return readings, frames  # type: ignore[return-value]


def _onnx_forward(onnx_path: Path, source: Path, strict: bool, threads: int = 0):
    """The ONNX Runtime forward for `onnx_path` if it may stand in for `source`, else None (auto) or
    an error (strict). An export made from other weights than `source` would silently read with a
    model the user did not ask for, so it is checked by the source file's hash."""
    try:
        from recognizer.onnx_forward import OnnxForward, file_sha256
    except ImportError as exc:  # onnxruntime missing: torch still reads
        if strict:
            raise
        print(f"onnxruntime unavailable ({exc}); recognizer runs with torch", file=sys.stderr)
        return None
    forward = OnnxForward(onnx_path, threads=threads)
    if source.suffix == ".onnx" or not source.exists() or forward.source_sha256 == file_sha256(source):
        return forward
    message = f"{onnx_path}: exported from other weights than {source}; re-export with `ocrsearch export recognizer`"
    if strict:
        raise ValueError(message)
    print(message + " (reading with torch meanwhile)", file=sys.stderr)
    return None

"""The recognizer the pipeline uses: crops in, readings out, in width-sorted batches."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ocrsearch.types import Reading
from recognizer.decode import BeamConfig, BeamDecoder, greedy_decode
from recognizer.model import CRNN, CRNNConfig
from recognizer.preprocess import collate_strips, to_gray_strip

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "recognizer.pt"


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
    beam: BeamConfig | None = None


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Folds each eval-mode BatchNorm into the convolution registered just before it (as model.py
    registers them), in place: the same function with one pass over the activations instead of two."""
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (norm_name, norm) in zip(children, children[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.modules.batchnorm._BatchNorm):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(parent, norm_name, nn.Identity())
    return model


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
    def __init__(self, model: CRNN, cfg: RecognizerConfig | None = None, version: str = "untrained"):
        # A copy, so that folding BatchNorm never alters a model that is still being trained.
        self.model = fold_batchnorm(copy.deepcopy(model).eval()).to(memory_format=torch.channels_last)
        self.cfg = cfg or RecognizerConfig()
        self.version = version
        self._beam: BeamDecoder | None = None

    @classmethod
    def load(cls, weights: str | Path | None = None, decoder: str = "greedy", batch_size: int = 64,
             beam: BeamConfig | None = None) -> Recognizer:
        """Load shipped (or given) weights. Raises FileNotFoundError naming the path if absent."""
        path = Path(weights) if weights else DEFAULT_WEIGHTS
        if not path.exists():
            raise FileNotFoundError(f"{path}: recognizer weights not found (train with `ocrsearch train recognizer`)")
        state = torch.load(path, map_location="cpu", weights_only=False)
        model = CRNN(CRNNConfig.from_dict(state["config"]))
        model.load_state_dict(state["model"])
        version = state.get("version") or f"crnn-{path.stem}-step{state.get('metrics', {}).get('step', '?')}"
        return cls(model, RecognizerConfig(decoder=decoder, batch_size=batch_size, beam=beam), version)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Reading]:
        if self.cfg.decoder == "beam":
            if self._beam is None:
                self._beam = BeamDecoder(self.cfg.beam)
            return self._beam.decode(log_probs, lengths)
        return greedy_decode(log_probs, lengths)

    @torch.inference_mode()
    def recognize(self, crops: list[np.ndarray]) -> list[Reading]:
        """Upright crops (RGB or gray uint8) -> one Reading each, in input order."""
        if not crops:
            return []
        strips = [to_gray_strip(c) for c in crops]
        readings: list[Reading | None] = [None] * len(strips)
        for idx in width_batches([s.shape[1] for s in strips], self.cfg.batch_size, self.cfg.batch_overhead_columns):
            images, widths = collate_strips([strips[i] for i in idx])  # [B, 1, H, W]
            images = torch.nn.functional.pad(images, (0, self.cfg.right_margin_columns))  # background is 0
            log_probs = self.model(images.to(memory_format=torch.channels_last))  # [T, B, C]
            lengths = CRNN.output_lengths(widths).clamp(max=log_probs.shape[0])
            for i, reading in zip(idx, self.decode(log_probs, lengths)):
                readings[i] = reading
        return readings  # type: ignore[return-value]

"""The recognizer the pipeline uses: crops in, readings out, in width-sorted batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ocrsearch.types import Reading
from recognizer.decode import BeamConfig, BeamDecoder, greedy_decode
from recognizer.model import CRNN, CRNNConfig
from recognizer.preprocess import collate_strips, to_gray_strip

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "recognizer.pt"


@dataclass
class RecognizerConfig:
    decoder: str = "greedy"  # or "beam"
    batch_size: int = 64
    beam: BeamConfig | None = None


class Recognizer:
    def __init__(self, model: CRNN, cfg: RecognizerConfig | None = None, version: str = "untrained"):
        self.model = model.eval().to(memory_format=torch.channels_last)
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
        order = np.argsort([s.shape[1] for s in strips], kind="stable")  # similar widths per batch
        readings: list[Reading | None] = [None] * len(strips)
        for start in range(0, len(order), self.cfg.batch_size):
            idx = order[start:start + self.cfg.batch_size]
            images, widths = collate_strips([strips[i] for i in idx])
            log_probs = self.model(images.to(memory_format=torch.channels_last))  # [T, B, C]
            lengths = CRNN.output_lengths(widths).clamp(max=log_probs.shape[0])
            for i, reading in zip(idx, self.decode(log_probs, lengths)):
                readings[i] = reading
        return readings  # type: ignore[return-value]

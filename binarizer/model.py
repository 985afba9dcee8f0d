"""The binarizer network: a small U-Net that maps an RGB photo tile to ink logits.

A pure `nn.Module` with no training code; `encoder_weights=None` so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import segmentation_models_pytorch as smp
import torch
from torch import nn


@dataclass(frozen=True)
class BinarizerModelConfig:
    """Architecture defaults, in one place; saved beside the weights."""

    encoder: str = "mobilenet_v2"
    encoder_depth: int = 4
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # input normalisation (RGB in [0,1])
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)


class BinarizerNet(nn.Module):
    """U-Net: [B,3,H,W] float RGB in [0,1] -> [B,1,H,W] ink logits (H, W multiples of 16)."""

    def __init__(self, cfg: BinarizerModelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or BinarizerModelConfig()
        self.unet = smp.Unet(
            encoder_name=self.cfg.encoder,
            encoder_weights=None,
            encoder_depth=self.cfg.encoder_depth,
            decoder_channels=self.cfg.decoder_channels,
            in_channels=3,
            classes=1,
        )
        self.register_buffer("mean", torch.tensor(self.cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.cfg.std).view(1, 3, 1, 1), persistent=False)

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.cfg.encoder_depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std  # [B,3,H,W]
        return self.unet(x)  # [B,1,H,W]

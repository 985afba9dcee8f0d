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
    # 1: smp's U-Net, whose last decoder block and head run at the input's full resolution.
    # 2 or 4: the decoder stops that many times below it and the head predicts a 2x2 (4x4) block of
    # logits per position (a sub-pixel convolution): the full-resolution block costs ~35% of the
    # binarizer's time on a 1280 x 720 photo (ONNX Runtime, 2 cores), and the blocks it drops
    # hold only the last decoder_channels entries, which are then unused.
    head_stride: int = 1


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
        if self.cfg.head_stride not in (1, 2, 4):
            raise ValueError(f"head_stride must be 1, 2 or 4, got {self.cfg.head_stride}")
        if self.cfg.head_stride > 1:
            dropped = {2: 1, 4: 2}[self.cfg.head_stride]
            self.unet.decoder.blocks = self.unet.decoder.blocks[:-dropped]
            kept_channels = self.cfg.decoder_channels[-dropped - 1]
            self.unet.segmentation_head = nn.Sequential(  # [B,C,H/s,W/s] -> [B,s*s,H/s,W/s] -> [B,1,H,W]
                nn.Conv2d(kept_channels, self.cfg.head_stride**2, kernel_size=3, padding=1),
                nn.PixelShuffle(self.cfg.head_stride),
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

"""Lightweight CRNN: spatial transformer -> depthwise-separable conv backbone -> BiLSTM/GRU -> CTC.

A pure nn.Module: no data loading, no training, no decoding here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recognizer.charset import NUM_CLASSES


@dataclass
class CRNNConfig:
    height: int = 32
    in_channels: int = 1
    num_classes: int = NUM_CLASSES
    channels: tuple[int, ...] = (32, 64, 128, 160, 256)
    rnn: str = "lstm"  # or "gru"
    rnn_hidden: int = 128
    rnn_layers: int = 2
    dropout: float = 0.1
    stn: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CRNNConfig:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", cls.channels))
        return cls(**d)


class SeparableConv(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, each followed by BN + ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.depthwise(x)), inplace=True)
        return F.relu(self.bn2(self.pointwise(x)), inplace=True)


class AffineSTN(nn.Module):
    """Predicts an affine warp of the crop (slant, skew, loose margins) from a coarse view of it.
    Starts as the identity so that training begins from an unwarped input."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.AdaptiveAvgPool2d((16, 64)),
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((2, 4)),
        )
        self.regress = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8, 64), nn.ReLU(inplace=True), nn.Linear(64, 6))
        nn.init.zeros_(self.regress[-1].weight)
        with torch.no_grad():
            self.regress[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.regress(self.features(x)).view(-1, 2, 3)  # [B, 2, 3]
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False, padding_mode="border")


class CRNN(nn.Module):
    """Reads a [B, C, 32, W] strip into per-column class log-probabilities [T=W/4, B, classes]."""

    def __init__(self, cfg: CRNNConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or CRNNConfig()
        c1, c2, c3, c4, c5 = cfg.channels
        self.stn = AffineSTN(cfg.in_channels) if cfg.stn else nn.Identity()
        self.backbone = nn.Sequential(
            # Strided stem: a full-resolution 32-channel map would cost more than the rest together.
            nn.Conv2d(cfg.in_channels, c1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
            SeparableConv(c1, c2),
            nn.MaxPool2d(2, 2),  # H/4, W/4
            SeparableConv(c2, c3), SeparableConv(c3, c3),
            nn.MaxPool2d((2, 1), (2, 1)),  # H/8
            SeparableConv(c3, c4), SeparableConv(c4, c4),
            nn.MaxPool2d((2, 1), (2, 1)),  # H/16
            SeparableConv(c4, c5),
            nn.Dropout2d(cfg.dropout),
        )
        # Collapse the remaining height into the feature vector of each column.
        self.collapse = nn.Conv2d(c5, c5, (cfg.height // 16, 1), bias=False)
        self.collapse_bn = nn.BatchNorm1d(c5)
        rnn_cls = nn.LSTM if cfg.rnn == "lstm" else nn.GRU
        self.rnn = rnn_cls(c5, cfg.rnn_hidden, num_layers=cfg.rnn_layers, bidirectional=True,
                           dropout=cfg.dropout if cfg.rnn_layers > 1 else 0.0)
        self.classifier = nn.Linear(2 * cfg.rnn_hidden, cfg.num_classes)

    @staticmethod
    def output_lengths(widths: torch.Tensor) -> torch.Tensor:
        """Sequence length the model emits for input widths (two 2x poolings along W)."""
        return torch.div(widths, 4, rounding_mode="floor").clamp(min=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stn(x)
        f = self.backbone(x)  # [B, C, H/16, W/4]
        f = self.collapse(f).squeeze(2)  # [B, C, T]
        f = F.relu(self.collapse_bn(f), inplace=True)
        f = f.permute(2, 0, 1)  # [B, C, T] -> [T, B, C]
        f, _ = self.rnn(f)  # [T, B, 2*hidden]
        return F.log_softmax(self.classifier(f), dim=-1)  # [T, B, classes]

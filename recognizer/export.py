"""Export recognizer weights to ONNX, so that reading needs onnxruntime instead of torch.

    ocrsearch export recognizer [--weights recognizer/weights/recognizer.pt] [-o X.onnx]

The export is the same network with BatchNorm folded, and one change that ONNX needs: the
spatial transformer's first AdaptiveAvgPool2d((16, 64)) pools a width that varies per batch into
64 bins whose edges are not a fixed kernel; the exporter cannot express that, so it is written as a
matrix product with the same bins. Outputs are checked against torch before the file is written.

It uses torch's TorchScript-based exporter (dynamo=False), deprecated but present up to the newest
torch we allow (2.14.1): the torch.export-based one fixed the width at the example's (tried with
dynamic_shapes on 2.14.1), and a recognizer that reads one width is of no use.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognizer.model import CRNN
from recognizer.onnx_forward import SOURCE_SHA256_KEY, VERSION_KEY, OnnxForward, file_sha256
from recognizer.torch_forward import fold_batchnorm, load_checkpoint

OPSET = 20  # AffineGrid and GridSample as single operators
CHECK_WIDTHS = (12, 40, 64, 151, 700)  # narrower and wider than the 64 pooling bins; a whole line
# Largest log-probability difference accepted (float32, different kernels). Float error grows
# along the BiLSTM: on 700 px noise strips (175 steps) the 2026-12-04 weights differ by 7.9e-3
# (a 0.8% relative change in probability, same argmax everywhere), the earlier ones by 2.8e-3.
CHECK_TOLERANCE = 1e-2


class AdaptiveAvgPoolWidth(nn.Module):
    """AdaptiveAvgPool2d((in_height / 2, bins)) for a dynamic input width, exportable to ONNX.

    Bin i averages columns [floor(i W / n), ceil((i + 1) W / n)), exactly as PyTorch's adaptive
    pooling does; along the height the pooling is a plain 2x average (32 -> 16)."""

    def __init__(self, bins: int):
        super().__init__()
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = x.shape[-1]
        x = F.avg_pool2d(x, (2, 1))  # [B, C, 32, W] -> [B, C, 16, W]
        i = torch.arange(self.bins)
        start = torch.div(i * width, self.bins, rounding_mode="floor")
        end = torch.div((i + 1) * width + self.bins - 1, self.bins, rounding_mode="floor")
        columns = torch.arange(width)
        inside = (columns[None, :] >= start[:, None]) & (columns[None, :] < end[:, None])  # [bins, W]
        weights = inside.to(x.dtype) / (end - start).to(x.dtype)[:, None]
        return torch.matmul(x, weights.t())  # [B, C, 16, W] @ [W, bins] -> [B, C, 16, bins]


def _exportable_copy(model: CRNN) -> nn.Module:
    copy = CRNN(model.cfg)
    copy.load_state_dict(model.state_dict())
    copy = fold_batchnorm(copy.eval())
    if model.cfg.stn:
        pool = copy.stn.features[0]
        if not (isinstance(pool, nn.AdaptiveAvgPool2d) and tuple(pool.output_size) == (model.cfg.height // 2, 64)):
            raise ValueError(f"unexpected STN pooling {pool}: update recognizer/export.py")
        copy.stn.features[0] = AdaptiveAvgPoolWidth(64)
    return copy


def export_onnx(model: CRNN, out: str | Path, metadata: dict[str, str] | None = None) -> float:
    """Writes `model` as ONNX to `out` (batch and width dynamic) and returns the largest
    log-probability difference to torch on test strips; raises if it exceeds CHECK_TOLERANCE."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("exporting needs the onnx package: pip install -e '.[export]'") from exc

    out = Path(out)
    net = _exportable_copy(model)
    example = torch.zeros(2, model.cfg.in_channels, model.cfg.height, 96)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # "variable length with LSTM" concerns packed sequences; ours are padded, every row runs
            # over the full width (as in torch), which the width checks below confirm.
            warnings.filterwarnings("ignore", message=".*variable length with LSTM.*")
            # Shape checks inside torch traced as constants; the export is checked at several widths.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # see the module docstring
            torch.onnx.export(net, (example,), str(raw), dynamo=False, opset_version=OPSET,
                              input_names=["images"], output_names=["log_probs"],
                              dynamic_axes={"images": {0: "batch", 3: "width"}, "log_probs": {0: "time", 1: "batch"}})
        proto = onnx.load(str(raw))
        for key, value in {"ocrsearch_config": json.dumps(asdict(model.cfg)), **(metadata or {})}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(raw))
        worst = max_difference(net, OnnxForward(raw))
        if worst > CHECK_TOLERANCE:
            raise RuntimeError(f"ONNX export differs from torch by {worst:.2e} (> {CHECK_TOLERANCE}); not written")
        out.parent.mkdir(parents=True, exist_ok=True)
        raw.replace(out)
    return worst


@torch.inference_mode()
def max_difference(net: nn.Module, forward: OnnxForward, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    worst = 0.0
    for width in CHECK_WIDTHS:
        images = rng.standard_normal((3, 1, 32, width)).astype(np.float32)
        expected = net(torch.from_numpy(images)).numpy()
        worst = max(worst, float(np.abs(forward(images) - expected).max()))
    return worst


def export_checkpoint(weights: str | Path, out: str | Path | None = None) -> tuple[Path, float]:
    """Exports a .pt checkpoint to ONNX (default: beside it, same name), tagged with its version and
    the checkpoint's hash, which Recognizer.load checks before it prefers the export."""
    weights = Path(weights)
    out = Path(out) if out else weights.with_suffix(".onnx")
    model, version = load_checkpoint(weights)
    worst = export_onnx(model, out, {VERSION_KEY: version, SOURCE_SHA256_KEY: file_sha256(weights)})
    return out, worst

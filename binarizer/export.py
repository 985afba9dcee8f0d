"""Export binarizer weights to ONNX, so that reading needs onnxruntime instead of torch and smp.

    ocrsearch export binarizer [--weights binarizer/weights/binarizer.pt] [-o X.onnx]

Importing torch and segmentation-models-pytorch (timm, torchvision) costs 2-4 s of every
`ocrsearch read`; onnxruntime imports in ~0.1 s. The export is checked against torch on random
tiles before it is written, and records the SHA-256 of the checkpoint it came from, so that a
retrained `binarizer.pt` is never read through a stale export.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from binarizer.infer import load_checkpoint
from binarizer.model import BinarizerNet
from binarizer.onnx_forward import SOURCE_SHA256_KEY, WORK_SIDE_KEY, OnnxUnet, file_sha256

OPSET = 17
CHECK_SIDES = ((64, 64), (128, 192), (320, 320))  # tile shapes (multiples of the stride) compared with torch
CHECK_TOLERANCE = 1e-3  # largest ink-probability difference accepted


def export_onnx(model: BinarizerNet, out: str | Path, metadata: dict[str, str] | None = None) -> float:
    """Writes `model` as ONNX to `out` (batch, height and width dynamic; sigmoid included) and returns
    the largest probability difference to torch on test tiles; raises if it exceeds CHECK_TOLERANCE."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("exporting needs the onnx package: pip install -e '.[export]'") from exc

    net = _Probabilities(model).eval()  # the wrapper too: export restores the mode it finds
    out = Path(out)
    example = torch.zeros(1, 3, 128, 128)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "binarizer.onnx"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript-based exporter
            torch.onnx.export(net, (example,), str(raw), dynamo=False, opset_version=OPSET,
                              input_names=["rgb"], output_names=["ink"],
                              dynamic_axes={"rgb": {0: "batch", 2: "height", 3: "width"},
                                            "ink": {0: "batch", 2: "height", 3: "width"}})
        proto = onnx.load(str(raw))
        meta = {"ocrsearch_binarizer_config": json.dumps(model.cfg.__dict__, default=list), **(metadata or {})}
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(raw))
        worst = max_difference(net, OnnxUnet(raw, threads=1))
        if worst > CHECK_TOLERANCE:
            raise RuntimeError(f"ONNX export differs from torch by {worst:.2e} (> {CHECK_TOLERANCE}); not written")
        out.parent.mkdir(parents=True, exist_ok=True)
        raw.replace(out)
    return worst


class _Probabilities(torch.nn.Module):
    """The U-Net with its sigmoid: [B,3,H,W] RGB in [0,1] -> [B,1,H,W] ink probability."""

    def __init__(self, model: BinarizerNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(x))


@torch.inference_mode()
def max_difference(net: torch.nn.Module, forward: OnnxUnet, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    worst = 0.0
    for h, w in CHECK_SIDES:
        tile = rng.random((1, 3, h, w), dtype=np.float32)
        expected = net(torch.from_numpy(tile)).numpy()
        worst = max(worst, float(np.abs(forward(tile) - expected).max()))
    return worst


def export_checkpoint(weights: str | Path, out: str | Path | None = None) -> tuple[Path, float]:
    """Exports a binarizer .pt checkpoint to ONNX (default: beside it, same name), tagged with the
    checkpoint's hash and working side, which Binarizer.load checks before it prefers the export."""
    weights = Path(weights)
    out = Path(out) if out else weights.with_suffix(".onnx")
    model, work_side = load_checkpoint(weights)
    worst = export_onnx(model, out, {SOURCE_SHA256_KEY: file_sha256(weights), WORK_SIDE_KEY: str(work_side)})
    return out, worst

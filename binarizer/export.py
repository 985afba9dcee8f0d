"""Export binarizer weights to ONNX, so that reading needs onnxruntime instead of torch and smp.

    ocrsearch export binarizer [--weights binarizer/weights/binarizer.pt] [-o X.onnx]

Importing torch and segmentation-models-pytorch (timm, torchvision) costs 2-4 s of every
`ocrsearch read`; onnxruntime imports in ~0.1 s. The export is checked against torch on random
tiles before it is written, and records the SHA-256 of the checkpoint it came from, so that a
retrained `binarizer.pt` is never read through a stale export.

With `calibration` (a folder of photos, pages.jsonl or just images), the export is quantized to int8
(ONNX Runtime static quantization, QDQ, per-channel weights; activation ranges from 512 px tiles of
those photos at the working side): 25% faster on a 2-core CPU. It is then checked against the
float export on other tiles of the same photos: the ink masks (p > 0.5) must agree on 99.5% of pixels.
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
from binarizer.onnx_forward import INT8_KEY, SOURCE_SHA256_KEY, WORK_SIDE_KEY, OnnxUnet, file_sha256

OPSET = 17
CHECK_SIDES = ((64, 64), (128, 192), (320, 320))  # tile shapes (multiples of the stride) compared with torch
CHECK_TOLERANCE = 1e-3  # largest ink-probability difference accepted
INT8_MIN_AGREEMENT = 0.995  # share of pixels on the same side of p = 0.5 as the float export
CALIBRATION_TILES = 24


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


def photo_tiles(folder: Path, work_side: int, n: int, tile: int = 512, seed: int = 0) -> list[np.ndarray]:
    """n random [1,3,tile,tile] float32 tiles of the photos in `folder` (or folder/pages), brought to `work_side`."""
    import cv2

    from binarizer.classic import resize_max_side

    folder = Path(folder)
    photos = sorted(p for d in (folder, folder / "pages") if d.is_dir() for p in d.iterdir()
                    if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not photos:
        raise FileNotFoundError(f"{folder}: no .jpg or .png photos for calibration")
    rng = np.random.default_rng(seed)
    tiles = []
    for k in range(n):
        bgr = cv2.imread(str(photos[k % len(photos)]), cv2.IMREAD_COLOR)
        work, _ = resize_max_side(bgr[:, :, ::-1], work_side)
        work = cv2.copyMakeBorder(work, 0, max(0, tile - work.shape[0]), 0, max(0, tile - work.shape[1]), cv2.BORDER_REFLECT_101)
        y, x = (int(rng.integers(0, s - tile + 1)) for s in work.shape[:2])
        tiles.append(np.ascontiguousarray(work[y : y + tile, x : x + tile].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    return tiles


def quantize_int8(float_onnx: Path, out: Path, calibration: Path, work_side: int,
                  min_agreement: float = INT8_MIN_AGREEMENT) -> float:
    """Writes the int8 version of `float_onnx` to `out`; returns the share of pixels whose ink decision
    (p > 0.5) agrees with the float model on held-back tiles; raises under `min_agreement`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Tiles(CalibrationDataReader):
        def __init__(self, tiles: list[np.ndarray]) -> None:
            self.batches = iter([{"rgb": t} for t in tiles])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        prepared, raw = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(float_onnx), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(raw), Tiles(photo_tiles(calibration, work_side, CALIBRATION_TILES)),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        float_model, int8_model = OnnxUnet(float_onnx, threads=1), OnnxUnet(raw, threads=1)
        held_back = photo_tiles(calibration, work_side, 8, seed=1)
        agreement = float(np.mean([((float_model(t) > 0.5) == (int8_model(t) > 0.5)).mean() for t in held_back]))
        if agreement < min_agreement:
            raise RuntimeError(f"int8 export agrees with the float one on {agreement:.2%} of pixels "
                               f"(< {min_agreement:.1%}); not written")
        import onnx

        proto = onnx.load(str(raw))
        entry = proto.metadata_props.add()
        entry.key, entry.value = INT8_KEY, "1"
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(proto, str(out))
    return agreement


def export_checkpoint(weights: str | Path, out: str | Path | None = None, calibration: str | Path | None = None,
                      min_agreement: float = INT8_MIN_AGREEMENT) -> tuple[Path, float, float | None]:
    """Exports a binarizer .pt checkpoint to ONNX (default: beside it, same name), tagged with the
    checkpoint's hash and working side, which Binarizer.load checks before it prefers the export;
    int8 when `calibration` photos are given. Returns (path, largest float difference to torch,
    int8 agreement with the float export or None)."""
    weights = Path(weights)
    out = Path(out) if out else weights.with_suffix(".onnx")
    model, work_side = load_checkpoint(weights)
    meta = {SOURCE_SHA256_KEY: file_sha256(weights), WORK_SIDE_KEY: str(work_side)}
    if calibration is None:
        return out, export_onnx(model, out, meta), None
    with tempfile.TemporaryDirectory() as tmp:
        float_onnx = Path(tmp) / "float.onnx"
        worst = export_onnx(model, float_onnx, meta)
        agreement = quantize_int8(float_onnx, out, Path(calibration), work_side or 1280, min_agreement)
    return out, worst, agreement

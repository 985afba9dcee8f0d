"""`Binarizer`: photo -> ink probability map, with the shipped U-Net or the classical fallback."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from binarizer.classic import ClassicConfig, classic_ink, resize_max_side

# torch is imported inside the functions that run a U-Net: the classical binarizer needs none of it,
# and importing torch costs 1.5-2 s of every `ocrsearch read`.
if TYPE_CHECKING:  # importing smp (and timm, torchvision) costs ~2 s: only when a U-Net is loaded
    from binarizer.model import BinarizerNet

DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "binarizer.pt"


@dataclass(frozen=True)
class TilingConfig:
    """How the U-Net walks over a photo."""

    work_side: int = 1280  # the photo is brought to at most this longest side first
    tile: int = 512  # largest tile side (tiles are sized evenly below it; see axis_tiles)
    overlap: int = 32  # pixels shared by neighbouring tiles; the centre of each tile is kept


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` px overlapping by at least `overlap`."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def axis_tiles(length: int, max_tile: int, overlap: int, stride: int) -> tuple[int, list[int]]:
    """Tile size (a multiple of `stride`) and start offsets along one axis of `length` px (itself a
    multiple of `stride`): as few tiles of at most `max_tile` px as cover it with at least `overlap`
    px shared, all of one size, so that little is computed twice (fixed 512 px tiles computed 28%
    of a 1280 x 960 photo twice; these, 8%)."""
    max_tile = max(stride, max_tile // stride * stride)
    if length <= max_tile:
        return length, [0]
    n = -(-(length - overlap) // (max_tile - overlap))
    tile = min(max_tile, -(-(-(-(length + (n - 1) * overlap) // n)) // stride) * stride)
    return tile, tile_starts(length, tile, overlap)


class TorchUnet:
    """A BinarizerNet behind the same call as `OnnxUnet`: [B,3,H,W] float32 numpy -> [B,1,H,W] probability."""

    def __init__(self, model: BinarizerNet) -> None:
        self.model = model.eval()
        self.stride = model.stride

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return torch.sigmoid(self.model(torch.from_numpy(tiles))).numpy()


def predict_tiled(model, rgb: np.ndarray, cfg: TilingConfig = TilingConfig()) -> np.ndarray:
    """Ink probability [h,w] float32 for `rgb` [h,w,3] uint8, tile by tile (bounded memory).

    `model`: a BinarizerNet, or a forward with a `stride` (TorchUnet, OnnxUnet)."""
    forward = TorchUnet(model) if hasattr(model, "parameters") else model
    h, w = rgb.shape[:2]
    stride = forward.stride
    # pad to a multiple of the stride
    ph, pw = -(-h // stride) * stride, -(-w // stride) * stride
    padded = cv2.copyMakeBorder(rgb, 0, ph - h, 0, pw - w, cv2.BORDER_REFLECT_101) if (ph, pw) != (h, w) else rgb
    out = np.zeros((ph, pw), np.float32)
    half = cfg.overlap // 2
    (tile_h, ys), (tile_w, xs) = (axis_tiles(ph, cfg.tile, cfg.overlap, stride),
                                  axis_tiles(pw, cfg.tile, cfg.overlap, stride))
    for y in ys:
        for x in xs:
            patch = padded[y : y + tile_h, x : x + tile_w]  # [th,tw,3] uint8
            inp = np.ascontiguousarray(patch.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0  # [1,3,th,tw]
            prob = forward(inp)[0, 0]  # [th,tw]
            # keep the tile's centre; its edges only where no neighbour covers them
            y0 = 0 if y == ys[0] else half
            x0 = 0 if x == xs[0] else half
            out[y + y0 : y + tile_h, x + x0 : x + tile_w] = prob[y0:, x0:]
    return out[:h, :w]


class Binarizer:
    """Photo [H,W,3] uint8 RGB -> ink probability [H,W] float32 in [0,1].

    `Binarizer.load()` gives the shipped U-Net when binarizer/weights/binarizer.pt exists, else the
    classical background-normalised threshold. `ink_map()` returns the map at the working scale
    (cheaper: the detector accepts it directly); calling the binarizer returns it at photo size.
    """

    def __init__(
        self,
        model=None,
        tiling: TilingConfig | None = None,
        classic: ClassicConfig | None = None,
    ) -> None:
        # model: a BinarizerNet, or a forward with a `stride` (TorchUnet, OnnxUnet); None: classical
        if hasattr(model, "parameters"):  # an nn.Module
            model = TorchUnet(model)
        self.model = model
        self.tiling = tiling or TilingConfig()
        self.classic = classic or ClassicConfig()
        self._tag = "1"

    @property
    def kind(self) -> str:
        return "unet" if self.model is not None else "classic"

    @property
    def backend(self) -> str:
        """What runs the U-Net: "onnx", "torch", or "none" for the classical binarizer."""
        if self.model is None:
            return "none"
        return "torch" if isinstance(self.model, TorchUnet) else "onnx"

    @property
    def version(self) -> str:
        """Identifies the ink maps this binarizer produces (stored with readings)."""
        int8 = "-int8" if getattr(self.model, "int8", False) else ""
        return f"binarizer-{self.kind}-{self._tag}{int8}"

    @classmethod
    def load(cls, weights: Path | str | None = None, backend: str = "auto", threads: int = 0,
             tiling: TilingConfig | None = None, work_side: int | None = None) -> Binarizer:
        """The U-Net from `weights` (default: the shipped file), or the classical fallback if none exists.

        `backend` "auto" runs X.onnx when it was exported from X.pt (or X.pt is absent), else X.pt with
        torch; "torch" insists on torch. The working side saved with the weights sets the tiling."""
        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        onnx_path = path.with_suffix(".onnx")
        if not path.exists() and not (backend != "torch" and onnx_path.exists()):
            if weights is not None:
                raise FileNotFoundError(f"{path}: no such binarizer weights")
            return cls()
        source = path if path.exists() else onnx_path
        source_sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
        forward, saved_side = None, None
        if backend != "torch" and onnx_path.exists():
            from binarizer.onnx_forward import OnnxUnet

            candidate = OnnxUnet(onnx_path, threads=threads)
            if path.suffix == ".onnx" or not path.exists() or candidate.source_sha256 == source_sha256:
                forward, saved_side = candidate, candidate.work_side
            else:
                print(f"{onnx_path}: exported from other weights than {path}; binarizer runs with torch "
                      f"(re-export with `ocrsearch export binarizer`)", file=sys.stderr)
        if forward is None:
            model, saved_side = load_checkpoint(path)
            forward = TorchUnet(model)
        if work_side is None:
            work_side = saved_side
        tiling = replace(tiling or TilingConfig(), **({"work_side": work_side} if work_side else {}))
        binarizer = cls(model=forward, tiling=tiling)
        binarizer._tag = source_sha256[:8]
        return binarizer

    def ink_map(self, rgb: np.ndarray) -> np.ndarray:
        """Ink probability [h,w] float32 at the working scale (same aspect ratio as `rgb`)."""
        if self.model is None:
            return classic_ink(rgb, self.classic, full_size=False)
        work, _ = resize_max_side(rgb, self.tiling.work_side)
        return predict_tiled(self.model, work, self.tiling)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Ink probability [H,W] float32 in [0,1] at the photo's size."""
        ink = self.ink_map(rgb)
        if ink.shape != rgb.shape[:2]:
            ink = cv2.resize(ink, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        return np.clip(ink, 0.0, 1.0).astype(np.float32, copy=False)


def save_model(model: BinarizerNet, path: Path, extra: dict | None = None) -> None:
    """Weights plus the architecture config, so `load_model` needs nothing else."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.cfg), "state_dict": model.state_dict(), **(extra or {})}, path)


def load_checkpoint(path: Path) -> tuple[BinarizerNet, int | None]:
    """The network of a checkpoint and the working side it was trained for (None: not recorded)."""
    import torch

    from binarizer.model import BinarizerModelConfig, BinarizerNet

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = ckpt["config"]
    cfg = BinarizerModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    model = BinarizerNet(cfg)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt.get("work_side")


def load_model(path: Path) -> BinarizerNet:
    return load_checkpoint(path)[0]

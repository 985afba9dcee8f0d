"""The learned detector: a U-Net word-kernel map (detector/regions.py) -> word quads.

The network is the binarizer's (a `BinarizerNet` trained on kernel masks with `ocrsearch train
binarizer`), so it reuses the binarizer's tiled inference and ONNX export. It reads the photo, not
the ink map; the ink map argument of `detect` is accepted so that it fits the pipeline's stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.regions import KernelConfig, kernels_to_quads
from ocrsearch.types import Detection

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "kernel.pt"


class KernelDetector:
    def __init__(self, network, cfg: KernelConfig | None = None) -> None:
        self.network = network  # a binarizer.Binarizer whose map is word kernels
        self.cfg = cfg or KernelConfig()

    @property
    def version(self) -> str:
        return f"detector-kernel-{getattr(self.network, '_tag', 'x')}"

    @classmethod
    def load(cls, weights: Path | None = None, cfg: KernelConfig | None = None, threads: int = 0,
             work_side: int | None = None) -> KernelDetector:
        """`work_side`: the longest side the net reads the photo at (None: the one it was trained at)."""
        from dataclasses import replace

        from binarizer import Binarizer

        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if not path.exists() and not path.with_suffix(".onnx").exists():
            raise FileNotFoundError(f"{path}: no learned detector weights (train with `ocrsearch train binarizer` "
                                    f"on a kernel set, see detector/weights/README.md)")
        network = Binarizer.load(path, threads=threads)
        if work_side:
            network.tiling = replace(network.tiling, work_side=work_side)
        return cls(network, cfg)

    def kernel_map(self, rgb: np.ndarray) -> np.ndarray:
        """Kernel probability [h,w] at the network's working scale."""
        return self.network.ink_map(rgb)

    def detect(self, rgb: np.ndarray, ink: np.ndarray | None = None) -> list[Detection]:
        """Word quads [4,2] in pixels of `rgb` [H,W,3]."""
        prob = self.kernel_map(rgb)
        scale = np.array([rgb.shape[1] / prob.shape[1], rgb.shape[0] / prob.shape[0]], np.float32)
        return [Detection(quad=(q * scale).astype(np.float32)) for q in kernels_to_quads(prob, self.cfg)]

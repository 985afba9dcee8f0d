"""The binarizer U-Net with ONNX Runtime, for the exported shipped weights (binarizer/export.py).

Why: importing torch and smp costs 2-4 s of every `ocrsearch read`; onnxruntime imports in ~0.1 s."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

# Metadata keys written by binarizer/export.py.
SOURCE_SHA256_KEY = "ocrsearch_source_sha256"
WORK_SIDE_KEY = "ocrsearch_work_side"
CONFIG_KEY = "ocrsearch_binarizer_config"
INT8_KEY = "ocrsearch_int8"  # present on exports quantized to int8 (their ink maps differ slightly)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class OnnxUnet:
    """[B,3,H,W] float32 RGB in [0,1] (numpy) -> [B,1,H,W] ink probability (numpy)."""

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.source_sha256 = meta.get(SOURCE_SHA256_KEY, "")
        self.work_side = int(meta[WORK_SIDE_KEY]) if WORK_SIDE_KEY in meta else None
        config = json.loads(meta.get(CONFIG_KEY, "{}"))
        self.stride = 2 ** int(config.get("encoder_depth", 5))
        self.int8 = meta.get(INT8_KEY) == "1"
        self._input = self.session.get_inputs()[0].name

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: tiles})[0]

"""The CRNN forward pass with torch: any model in memory (one being trained, a checkpoint)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Folds each eval-mode BatchNorm into the convolution registered just before it (as model.py
    registers them), in place: the same function with one pass over the activations instead of two."""
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (norm_name, norm) in zip(children, children[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.modules.batchnorm._BatchNorm):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(parent, norm_name, nn.Identity())
    return model


class TorchForward:
    """[B, 1, H, W] float32 numpy -> [T, B, C] log-probabilities numpy."""

    def __init__(self, model: nn.Module):
        # A copy, so that folding BatchNorm never alters a model that is still being trained.
        self.model = fold_batchnorm(copy.deepcopy(model).eval()).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(images).to(memory_format=torch.channels_last)
        return self.model(batch).numpy()


def load_checkpoint(path: str | Path) -> tuple[nn.Module, str]:
    """A CRNN and its version string from a training checkpoint (.pt)."""
    from recognizer.model import CRNN, CRNNConfig

    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = CRNN(CRNNConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    version = state.get("version") or f"crnn-{path.stem}-step{state.get('metrics', {}).get('step', '?')}"
    return model, version

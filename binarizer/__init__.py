"""Binarizer: phone photo -> ink probability map (U-Net when weights ship, else classical)."""

from binarizer.infer import Binarizer

__all__ = ["Binarizer"]

"""Detector: ink map -> word quadrilaterals in photo pixels."""

from detector.infer import Detector

__all__ = ["Detector"]

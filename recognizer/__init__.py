"""Word and line recognition: a lightweight CRNN read with CTC."""

from recognizer.infer import Recognizer, RecognizerConfig

__all__ = ["Recognizer", "RecognizerConfig"]

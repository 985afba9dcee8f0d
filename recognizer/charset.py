"""The recognizer's alphabet: CTC blank, then printable ASCII with space."""

from __future__ import annotations

import unicodedata

BLANK = 0
ALPHABET = "".join(chr(c) for c in range(32, 127))  # space .. '~'
NUM_CLASSES = len(ALPHABET) + 1
_INDEX = {ch: i + 1 for i, ch in enumerate(ALPHABET)}
# Typographic characters found in real transcriptions, mapped to what the model can output.
_FOLD = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "€": "E", "£": "L", "⟦": "", "⟧": ""}


def normalise_label(text: str) -> str:
    """Map a transcription onto the alphabet: fold quotes and dashes, strip accents, drop the rest."""
    text = "".join(_FOLD.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if c in _INDEX).split())


def encode(text: str) -> list[int]:
    return [_INDEX[c] for c in normalise_label(text)]


def decode_indices(indices: list[int]) -> str:
    return "".join(ALPHABET[i - 1] for i in indices if i != BLANK)


def encode_batch(texts: list[str]):
    """Concatenated targets and their lengths (torch tensors), as nn.CTCLoss takes them."""
    import torch  # training only: reading never imports torch

    encoded = [encode(t) for t in texts]
    targets = torch.tensor([i for e in encoded for i in e], dtype=torch.long)
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    return targets, lengths

"""ocrsearch: find photos of whiteboards and handwritten pages by the words written on them."""

__version__ = "0.1.0"

"""Photo files to RGB pixels as the user sees them.

Phones write JPEG or HEIC with an EXIF orientation tag, scanners write 16-bit TIFF, screenshots are
RGBA PNG: every one of them ends up here as an upright H x W x 3 uint8 array, or as a `PhotoError`
whose reason fits on one line.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocrsearch.config import PhotoLimits

# Suffixes that ingest picks up when it walks a folder. Formats we cannot read are listed too, so
# that a GIF in a folder of photos is reported instead of silently skipped.
SUPPORTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".bmp", ".avif"})
UNSUPPORTED_IMAGE_SUFFIXES = frozenset({".gif", ".svg", ".psd", ".ico", ".jp2", ".dng", ".cr2", ".nef", ".arw"})
CANDIDATE_SUFFIXES = SUPPORTED_SUFFIXES | UNSUPPORTED_IMAGE_SUFFIXES

SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "HEIF", "AVIF", "BMP"})

_HASH_CHUNK = 1 << 20


class PhotoError(Exception):
    """A photo that cannot be read, with a one-line reason meant for the user."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = " ".join(reason.split())  # one line, whatever the decoder said
        super().__init__(f"{self.path}: {self.reason}")


@dataclass(frozen=True)
class LoadedPhoto:
    rgb: np.ndarray  # [h, w, 3] uint8, EXIF orientation applied; smaller than the photo after a reduced decode
    width: int  # of the photo as displayed (after EXIF orientation), whatever the scale of `rgb`
    height: int
    sha256: str  # of the file bytes the pixels were decoded from
    size: int  # file size in bytes
    mtime_ns: int | None = None  # the file's modification time, taken before its bytes were read


def is_candidate(path: Path) -> bool:
    return path.suffix.lower() in CANDIDATE_SUFFIXES


@functools.cache
def register_heif() -> bool:
    """Teach Pillow to open HEIC/HEIF (once per process); False when pillow-heif is missing."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_photo(path: str | Path, limits: PhotoLimits = PhotoLimits(), min_side: int | None = None) -> LoadedPhoto:
    """Read a photo file once: the hash and the pixels come from the same bytes.

    With `min_side`, a JPEG is decoded at the smallest of 1/2, 1/4, 1/8 scale whose longest side is
    still at least `min_side`: libjpeg then skips most of the inverse DCT, and a 12 MP photo decodes
    about six times faster. Other formats are decoded at full size. `width` and `height` are those
    of the full photo either way.
    """
    data, mtime_ns = _read_bytes(Path(path), limits)
    rgb, (width, height) = _decode(data, path, limits, min_side)
    return LoadedPhoto(rgb=rgb, width=width, height=height, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       mtime_ns=mtime_ns)


def load_rgb(path: str | Path, limits: PhotoLimits = PhotoLimits()) -> np.ndarray:
    return decode_photo(_read_bytes(Path(path), limits)[0], path, limits)


def _read_bytes(path: Path, limits: PhotoLimits) -> tuple[bytes, int]:
    """The file's bytes, and its modification time (ns) taken before reading them: a file changed
    meanwhile then looks changed to the next ingest, which hashes it again."""
    try:
        stat = path.stat()
        size = stat.st_size
        if size > limits.max_file_bytes:
            raise PhotoError(path, f"file too large ({size / 2**20:.0f} MiB, limit {limits.max_file_bytes / 2**20:.0f} MiB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoError(path, "no such file") from None
    except IsADirectoryError:
        raise PhotoError(path, "is a folder, not a photo") from None
    except PermissionError:
        raise PhotoError(path, "permission denied") from None
    except OSError as e:
        raise PhotoError(path, f"cannot read file: {e.strerror or e}") from None
    if not data:
        raise PhotoError(path, "empty file (0 bytes)")
    return data, stat.st_mtime_ns


def decode_photo(data: bytes, path: str | Path, limits: PhotoLimits = PhotoLimits()) -> np.ndarray:
    """Decode image bytes to upright RGB uint8; every failure becomes a PhotoError."""
    return _decode(data, path, limits, None)[0]


def _decode(data: bytes, path: str | Path, limits: PhotoLimits,
            min_side: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Upright RGB pixels, and the (width, height) of the full-size photo as displayed."""
    if data[4:8] == b"ftyp":  # ISO media container (HEIC/HEIF/AVIF): importing pillow-heif costs ~50 ms
        register_heif()
    # Pillow's own bomb check is a process-wide setting; we enforce our limit per call instead and
    # only keep Pillow's hard error (at twice its limit) as a backstop.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in SUPPORTED_FORMATS:
                    raise PhotoError(path, f"unsupported image format {img.format} (expected JPEG, PNG, WebP, TIFF or HEIC)")
                width, height = img.size
                if width * height > limits.max_pixels:
                    raise PhotoError(path, f"image too large: {width}x{height} = {width * height / 1e6:.0f} MP "
                                           f"(limit {limits.max_pixels / 1e6:.0f} MP)")
                if width == 0 or height == 0:
                    raise PhotoError(path, "image has no pixels")
                if min_side is not None and max(width, height) >= 2 * min_side:
                    # Pillow picks the largest scale whose size is at least the one asked for
                    factor = max(width, height) / min_side
                    img.draft(None, (math.ceil(width / factor), math.ceil(height / factor)))
                img.load()
                upright, swapped = _upright(img)
                return _to_rgb(upright), ((height, width) if swapped else (width, height))
        except PhotoError:
            raise
        except Image.DecompressionBombError as e:
            raise PhotoError(path, f"image too large (decompression bomb): {e}") from None
        except UnidentifiedImageError:
            raise PhotoError(path, "not an image (unrecognised file format)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            # Pillow reports truncated and corrupt data as OSError/SyntaxError/ValueError
            raise PhotoError(path, f"truncated or corrupt image: {e}") from None
        except MemoryError:
            raise PhotoError(path, "not enough memory to decode this image") from None


_EXIF_ORIENTATION = 0x0112


_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # transposed or turned by 90 degrees: width and height swap


def _upright(img: Image.Image) -> tuple[Image.Image, bool]:
    """The image as displayed, and whether that swapped its width and height."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
        if orientation == 1:
            return img, False  # already upright: exif_transpose would still copy 36 MB for a 12 MP photo
        return ImageOps.exif_transpose(img), orientation in _SWAPPING_ORIENTATIONS
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not hide readable pixels
        return img, False


def _to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F" and arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255.0
        elif mode != "F":
            # 16-bit data (PNG/TIFF often decode as "I"); 8-bit data stored in "I" is left as is
            top = float(arr.max()) if arr.size else 0.0
            arr = arr / 257.0 if top > 255 else arr
        gray = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        # Transparent areas of a scan or screenshot are paper: composite on white, not black
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))

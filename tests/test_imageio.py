"""Photo loading: every readable photo becomes upright RGB uint8; every other file a one-line PhotoError."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrsearch.config import PhotoLimits
from ocrsearch.imageio import PhotoError, load_rgb, read_photo

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _left_red_right_blue(width: int = 40, height: int = 20) -> Image.Image:
    img = Image.new("RGB", (width, height), RED)
    img.paste(BLUE, (width // 2, 0, width, height))
    return img


def _assert_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape == (*shape, 3)
    assert arr.flags.c_contiguous


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """A phone photo tagged 'rotate 90 CW' loads as displayed: portrait, with the left half on top."""
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    _left_red_right_blue().save(path, exif=exif.tobytes(), quality=95)

    rgb = load_rgb(path)

    _assert_rgb(rgb, (40, 20))
    assert rgb[5, 10, 0] > 200 and rgb[5, 10, 2] < 60  # top: red (was the left half)
    assert rgb[35, 10, 2] > 200 and rgb[35, 10, 0] < 60  # bottom: blue


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F", "RGB"])
def test_any_mode_becomes_rgb_uint8(tmp_path: Path, mode: str) -> None:
    """Whatever the pixel mode of the file, the pipeline gets H x W x 3 uint8."""
    img = _left_red_right_blue().convert("L").convert(mode) if mode in ("I;16", "I", "F") else _left_red_right_blue().convert(mode)
    path = tmp_path / ("photo.tiff" if mode in ("CMYK", "I;16", "I", "F") else "photo.png")
    img.save(path)

    _assert_rgb(load_rgb(path), (20, 40))


def test_transparent_areas_become_white_paper(tmp_path: Path) -> None:
    """Transparent pixels of an RGBA scan load as white, not black (ink must stay darker than paper)."""
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    img.putpixel((5, 5), (0, 0, 0, 255))
    path = tmp_path / "scan.png"
    img.save(path)

    rgb = load_rgb(path)

    assert tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[5, 5]) == (0, 0, 0)


def test_sixteen_bit_scales_to_eight_bit(tmp_path: Path) -> None:
    """16-bit white (65535) is 8-bit white (255), not clipped garbage."""
    arr = np.full((8, 8), 65535, dtype=np.uint16)
    arr[0, 0] = 0
    path = tmp_path / "scan16.png"
    Image.fromarray(arr).save(path)

    rgb = load_rgb(path)

    assert rgb[4, 4, 0] == 255 and rgb[0, 0, 0] == 0


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff", ".heic"])
def test_supported_formats_load(tmp_path: Path, suffix: str) -> None:
    """JPEG, PNG, WebP, TIFF and HEIC photos all load to the same shape."""
    img = _left_red_right_blue(64, 48)
    path = tmp_path / f"photo{suffix}"
    if suffix == ".heic":
        pillow_heif = pytest.importorskip("pillow_heif")
        try:
            pillow_heif.from_pillow(img).save(str(path), quality=90)
        except Exception as e:  # noqa: BLE001 - wheels without an HEVC encoder cannot make the fixture
            pytest.skip(f"cannot write HEIC here: {e}")
    else:
        img.save(path)

    _assert_rgb(load_rgb(path), (48, 64))


def test_hash_is_of_the_decoded_bytes(tmp_path: Path) -> None:
    """read_photo's sha256 is the file's sha256, so the store can tell unchanged photos."""
    path = tmp_path / "photo.png"
    _left_red_right_blue().save(path)

    photo = read_photo(path)

    assert photo.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert photo.size == path.stat().st_size


def test_photo_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    """A photo above the pixel limit is refused with a clear reason and no Pillow warning escapes."""
    path = tmp_path / "huge.png"
    Image.new("1", (11_000, 10_000)).save(path)  # 110 MP, a few KB on disk

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PhotoError) as err:
            load_rgb(path)

    assert "too large" in err.value.reason and "110 MP" in err.value.reason


def test_pillow_decompression_bomb_is_a_photo_error(tmp_path: Path) -> None:
    """Pillow's own bomb error (twice its limit) becomes a PhotoError even when our limit is higher."""
    path = tmp_path / "bomb.png"
    Image.new("1", (14_000, 14_000)).save(path)  # 196 MP

    with pytest.raises(PhotoError) as err:
        load_rgb(path, PhotoLimits(max_pixels=10**12))

    assert "too large" in err.value.reason


@pytest.mark.parametrize("name, content, expected", [
    ("empty.jpg", b"", "empty file"),
    ("notes.jpg", b"this is a text file, not a photo\n", "not an image"),
    ("anim.gif", None, "unsupported image format GIF"),
])
def test_unreadable_files_raise_one_line_photo_errors(tmp_path: Path, name: str, content: bytes | None, expected: str) -> None:
    """Empty, non-image and unsupported files raise PhotoError(path, reason) with a one-line reason."""
    path = tmp_path / name
    if content is None:
        Image.new("RGB", (4, 4)).save(path)
    else:
        path.write_bytes(content)

    with pytest.raises(PhotoError) as err:
        load_rgb(path)

    assert expected in err.value.reason
    assert err.value.path == str(path)
    assert "\n" not in str(err.value)


def test_truncated_jpeg_is_a_photo_error(tmp_path: Path) -> None:
    """A JPEG cut in half (an interrupted copy) is reported as truncated, not decoded half grey."""
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(full)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])

    with pytest.raises(PhotoError) as err:
        load_rgb(cut)

    assert "truncated" in err.value.reason


def test_missing_file_and_folder_are_photo_errors(tmp_path: Path) -> None:
    """A path that is missing or a folder raises PhotoError, never OSError."""
    with pytest.raises(PhotoError, match="no such file"):
        load_rgb(tmp_path / "missing.jpg")
    with pytest.raises(PhotoError):
        load_rgb(tmp_path)


def _quadrants(width: int, height: int) -> Image.Image:
    """Red top-left, blue top-right, green bottom-left, white bottom-right: orientation shows."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    img.paste(RED, (0, 0, width // 2, height // 2))
    img.paste(BLUE, (width // 2, 0, width, height // 2))
    img.paste((0, 160, 0), (0, height // 2, width // 2, height))
    return img


def test_reduced_decode_keeps_the_longest_side_above_the_minimum(tmp_path: Path) -> None:
    """A 2000x1200 JPEG read with min_side 400 decodes at 1/4 (500x300, not 1/8 = 250x150); width
    and height are still the photo's."""
    path = tmp_path / "big.jpg"
    _quadrants(2000, 1200).save(path, quality=95)

    photo = read_photo(path, min_side=400)

    _assert_rgb(photo.rgb, (300, 500))
    assert (photo.width, photo.height) == (2000, 1200)
    assert photo.rgb[75, 125, 0] > 200 and photo.rgb[75, 375, 2] > 200  # red left, blue right: not transposed


def test_reduced_decode_of_a_rotated_phone_photo_is_upright(tmp_path: Path) -> None:
    """EXIF 'rotate 90 CW' on a reduced decode: the pixels and the reported size are both as displayed."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    _quadrants(1600, 1200).save(path, exif=exif.tobytes(), quality=95)

    photo = read_photo(path, min_side=600)

    _assert_rgb(photo.rgb, (800, 600))  # displayed portrait, at 1/2
    assert (photo.width, photo.height) == (1200, 1600)
    full = load_rgb(path)
    assert full.shape == (1600, 1200, 3)
    # the top-right quadrant of the displayed photo was the top-left (red) one of the stored pixels
    assert photo.rgb[200, 450, 0] > 200 and photo.rgb[200, 450, 2] < 60
    assert np.abs(full[::2, ::2].astype(int) - photo.rgb.astype(int)).mean() < 4


def test_reduced_decode_leaves_small_photos_and_other_formats_at_full_size(tmp_path: Path) -> None:
    """No scale keeps the longest side above min_side (a small JPEG), or the format cannot scale on decode (PNG)."""
    small, png = tmp_path / "small.jpg", tmp_path / "big.png"
    _quadrants(700, 500).save(small, quality=95)
    _quadrants(2000, 1200).save(png)

    assert read_photo(small, min_side=400).rgb.shape == (500, 700, 3)
    photo = read_photo(png, min_side=400)
    assert photo.rgb.shape == (1200, 2000, 3) and (photo.width, photo.height) == (2000, 1200)

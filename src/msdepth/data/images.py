"""Reading RGB images from files: any mode to RGB, EXIF rotation honoured, clear errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from msdepth.errors import DataError

T = TypeVar("T")


def rgb_from_pil(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 from a PIL image of any mode (grey, RGBA, palette, 16-bit, ...)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        arr = arr / max(float(arr.max()), 1.0) * 255.0
        image = Image.fromarray(arr.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def decode_image(path: Path, what: str, read: Callable[[Image.Image], T]) -> T:
    """``read(image)`` of the file decoded by Pillow; every decoding failure is a one-line
    `DataError` naming ``what`` ("image", "depth") and the file. Pillow's pixel limit is kept:
    a decompression bomb is refused, not decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return read(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            f"{what} {path} is too large to decode safely (over {Image.MAX_IMAGE_PIXELS} "
            "pixels); resize it first"
        ) from None
    except UnidentifiedImageError:
        raise DataError(
            f"{what} {path} is not an image Pillow can read (corrupt or another format)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{what} {path} is corrupt or truncated ({exc})") from None


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB; every failure names the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"image {path} does not exist")
    if path.is_dir():
        raise DataError(f"image {path} is a folder, not an image file")
    return decode_image(path, "image", rgb_from_pil)

"""What the app accepts as a photo: uploaded bytes decoded as `msdepth predict` decodes a file.

The pixels come out exactly as `msdepth.data.images.read_rgb` gives them for the same file
(`rgb_from_pil`: any mode to RGB, EXIF rotation honoured), so the app's depth is the one
`predict` writes. Unlike a file on the command line an upload is refused, with a message the page
shows, when it is not an image or when it has more pixels than the app is set to take: the size is
read from the header, before anything is decoded. Its EXIF (`upload_exif`) gives the photo's
focal length as a file's does to `predict`.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from msdepth.data.images import rgb_from_pil
from msdepth.errors import DataError

DEFAULT_MAX_MEGAPIXELS = 20.0  # a 12 MP phone photo fits; its PLY alone is ~180 MB
DEFAULT_MAX_UPLOAD_MB = 64.0
DEFAULT_MAX_VIDEO_SECONDS = 30.0  # the video tab's longest clip: a short one, minutes on a CPU


class UploadError(DataError):
    """An upload the app refuses; its message is shown in the page as it is."""

    status = 400  # the HTTP status the server answers with


class UploadTooLarge(UploadError):
    """More bytes or pixels than the app takes."""

    status = 413


def output_name(filename: str | None, default: str = "image") -> str:
    """The ``NAME`` of ``NAME.depth.png`` etc.: the file's stem as `predict` names outputs, with
    characters that do not belong in a file name replaced by ``_``."""
    stem = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    stem = re.sub(r"[^\w .()+-]+", "_", stem).strip("._ ")
    return stem[:100] or default


def upload_exif(data: bytes) -> Image.Exif | None:
    """The EXIF of an uploaded image, read as `predict` reads a file's
    (`msdepth.inference.camera.read_exif`: the header only, no pixels), None without one; it
    may give the photo's focal length."""
    from msdepth.inference.camera import read_exif

    try:
        with Image.open(io.BytesIO(data)) as image:
            return read_exif(image)
    except (OSError, SyntaxError, ValueError):
        return None  # decode_upload has already refused what cannot be read


def decode_upload(
    data: bytes, filename: str, max_pixels: int = int(DEFAULT_MAX_MEGAPIXELS * 1e6)
) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an uploaded image, or an `UploadError` that says what to do."""
    if not data:
        raise UploadError(f"{filename} is empty (0 bytes); choose an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UploadTooLarge(
                        f"{filename} is {width * height / 1e6:.1f} megapixels ({width}x{height}); "
                        f"this app takes up to {max_pixels / 1e6:g} MP: resize the photo first "
                        "(or start the app with a larger --max-megapixels)"
                    )
                image.load()
                return rgb_from_pil(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadTooLarge(
            f"{filename} is too large to decode safely; resize the photo first"
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            f"{filename} is not an image this app can read (PNG, JPEG, WebP, BMP, TIFF, ...): "
            "it may be another kind of file with an image's name; choose a photo"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(
            f"{filename} is corrupt or truncated ({exc}); choose another photo"
        ) from None

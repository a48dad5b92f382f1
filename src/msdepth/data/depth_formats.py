"""Depth encodings found in the wild, decoded to metres: a registry of named decoders.

Every decoder returns a float32 (H, W) array of metres with 0 where there is no reading: 0,
NaN, inf, negative values and each sensor's "no reading" code all become 0. ``scale`` overrides
a format's divisor (file value / scale = metres) where the format has one.

| name | encoding | metres |
|---|---|---|
| ``nyu`` | uint16 PNG, millimetres (NYU Depth V2, DenseDepth, BTS ``sync_depth``) | v / 1000 |
| ``kitti`` | uint16 PNG (KITTI depth completion / annotated depth) | v / 256 |
| ``tum`` | uint16 PNG (TUM RGB-D) | v / 5000 |
| ``sun`` | uint16 PNG, bit-rotated millimetres (SUN RGB-D) | ((v >> 3) \\| (v << 13)) & 0xFFFF / 1000 |
| ``pgm`` | 16-bit PGM, millimetres (big-endian, as the PGM standard says) | v / 1000 |
| ``nyu-raw`` | NYU raw Kinect disparity dump: PGM header, little-endian data; 2047 invalid | 351.3 / (1092.5 - v) |
| ``kinect2`` | uint16 PNG, 0.1 mm (Kinect v2); 65535 invalid | v / 10000 |
| ``npy`` | float ``.npy`` array in metres | v / 1 |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msdepth.data.images import decode_image
from msdepth.errors import DataError

# NYU Depth V2 toolbox (depth_rel2depth_abs.m): metres = 351.3 / (1092.5 - disparity).
NYU_RAW_NUMERATOR = 351.3
NYU_RAW_OFFSET = 1092.5
NYU_RAW_INVALID = 2047
# Beyond this the raw Kinect reading is noise; the toolbox clamps there, we mark it invalid.
NYU_RAW_MAX_METRES = 10.0


@dataclass(frozen=True)
class DepthFormat:
    """A named depth encoding: how to read the file and the default divisor to metres."""

    name: str
    description: str
    read: Callable[[Path], np.ndarray]  # file -> raw values (any numeric dtype)
    divisor: float | None  # metres = raw / divisor; None: ``to_metres`` does the conversion
    invalid_codes: tuple[int, ...] = ()
    to_metres: Callable[[np.ndarray], np.ndarray] | None = None


def _open_image_values(path: Path) -> np.ndarray:
    """Pixel values of a single-channel 16-bit (or 8-bit) image file, as Pillow decodes them."""
    mode, values = decode_image(path, "depth", lambda image: (image.mode, np.asarray(image)))
    if mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "L", "F"):
        raise DataError(
            f"depth {path} is a {mode} image; depth must be a single-channel 16-bit "
            "image (an RGB or colour-mapped depth picture cannot be made metric)"
        )
    return values


def read_uint16_image(path: Path) -> np.ndarray:
    """A 16-bit depth image (PNG, PGM, TIFF); 8-bit ones are checked by `decode_depth`."""
    return _open_image_values(path)


_PNM_HEADER = re.compile(rb"\A(P[25])(?:\s+|#[^\n]*\n)*(\d+)(?:\s+|#[^\n]*\n)+(\d+)"
                         rb"(?:\s+|#[^\n]*\n)+(\d+)\s")  # fmt: skip


def read_pgm_header(data: bytes, path: Path) -> tuple[int, int, int, int]:
    """(width, height, maxval, data offset) of a binary PGM, comments allowed."""
    match = _PNM_HEADER.match(data[:512])
    if match is None or match.group(1) != b"P5":
        raise DataError(f"depth {path} is not a binary PGM (no 'P5 width height maxval' header)")
    width, height, maxval = (int(match.group(i)) for i in (2, 3, 4))
    return width, height, maxval, match.end()


def read_nyu_raw_disparity(path: Path) -> np.ndarray:
    """Raw Kinect disparity from an NYU raw dump: a PGM header but little-endian 16-bit data."""
    data = _read_bytes(path)
    width, height, maxval, offset = read_pgm_header(data, path)
    if maxval < 256:
        raise DataError(f"depth {path} is an 8-bit PGM; NYU raw disparity is 16-bit")
    expected = offset + 2 * width * height
    if len(data) < expected:
        raise DataError(
            f"depth {path} is truncated: {len(data)} bytes, a {width}x{height} 16-bit PGM needs "
            f"{expected}"
        )
    return np.frombuffer(data, "<u2", count=width * height, offset=offset).reshape(height, width)


def nyu_raw_to_metres(raw: np.ndarray) -> np.ndarray:
    metres = NYU_RAW_NUMERATOR / (NYU_RAW_OFFSET - raw.astype(np.float64))
    metres[(raw == NYU_RAW_INVALID) | (metres > NYU_RAW_MAX_METRES)] = 0.0
    return metres


def sun_unrotate(raw: np.ndarray) -> np.ndarray:
    """SUN RGB-D stores millimetres rotated left by 3 bits: undo it."""
    v = raw.astype(np.uint32)
    return ((v >> 3) | (v << 13)) & 0xFFFF


def read_npy(path: Path) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"depth {path} does not exist") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"depth {path} is not a readable .npy array ({exc})") from None
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    real = np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
    if values.ndim != 2 or not real:
        raise DataError(
            f"depth {path} holds a {values.dtype} array of shape {values.shape}; expected (H, W) "
            "numbers in metres"
        )
    return values


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"depth {path} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"depth {path} is a folder, not a depth file") from None
    except OSError as exc:
        raise DataError(f"depth {path} cannot be read ({exc})") from None


def _formats() -> dict[str, DepthFormat]:
    table = [
        DepthFormat("nyu", "uint16 PNG in millimetres (NYU Depth V2, DenseDepth, BTS); /1000",
                    read_uint16_image, 1000.0),
        DepthFormat("kitti", "uint16 PNG, KITTI depth (/256); 0 = no reading",
                    read_uint16_image, 256.0),
        DepthFormat("tum", "uint16 PNG, TUM RGB-D (/5000); 0 = no reading",
                    read_uint16_image, 5000.0),
        DepthFormat("sun", "uint16 PNG, SUN RGB-D bit-rotated millimetres; /1000 after unrotating",
                    read_uint16_image, 1000.0, to_metres=sun_unrotate),
        DepthFormat("pgm", "16-bit PGM in millimetres (/1000); 0 = no reading",
                    read_uint16_image, 1000.0),
        DepthFormat("nyu-raw", "NYU raw Kinect disparity dump (little-endian PGM); "
                    "351.3 / (1092.5 - d), 2047 = no reading", read_nyu_raw_disparity, None,
                    to_metres=nyu_raw_to_metres),
        DepthFormat("kinect2", "uint16 PNG, Kinect v2 in 0.1 mm (/10000); 0 and 65535 = no reading",
                    read_uint16_image, 10000.0, invalid_codes=(65535,)),
        DepthFormat("npy", "float .npy array in metres", read_npy, 1.0),
    ]  # fmt: skip
    return {f.name: f for f in table}


FORMATS: dict[str, DepthFormat] = _formats()
DEPTH_FORMATS: dict[str, str] = {name: f.description for name, f in FORMATS.items()}


def get_format(fmt: str) -> DepthFormat:
    """The registered format called ``fmt``, or a DataError listing the known ones."""
    try:
        return FORMATS[fmt]
    except KeyError:
        raise DataError(
            f"unknown depth format {fmt!r}; choose one of {', '.join(FORMATS)}"
        ) from None


def decode_depth(path: str | Path, fmt: str = "nyu", scale: float | None = None) -> np.ndarray:
    """Decode a depth file to float32 metres (H, W), 0 where there is no valid reading.

    ``scale`` replaces the format's divisor (``--depth-scale``); formats without one
    (``nyu-raw``) refuse it.
    """
    path = Path(path)
    spec = get_format(fmt)
    if scale is not None and (not np.isfinite(scale) or scale <= 0):
        raise DataError(f"depth scale must be a positive number, got {scale}")
    if scale is not None and spec.divisor is None:
        raise DataError(f"depth format {fmt!r} has a fixed conversion; drop --depth-scale")
    if not path.exists():
        raise DataError(f"depth {path} does not exist")
    if path.is_dir():
        raise DataError(f"depth {path} is a folder, not a depth file")
    raw = spec.read(path)
    if raw.dtype == np.uint8 and scale is None:
        raise DataError(
            f"depth {path} is 8-bit: its scale cannot be guessed; give --depth-scale if it is "
            "linear (DenseDepth's nyu2_train: 25.5, i.e. 255 = 10 m), else it has lost metric "
            "depth (per-image normalised PNGs) and cannot be used"
        )
    invalid = np.zeros(raw.shape, dtype=bool)
    for code in spec.invalid_codes:
        invalid |= raw == code
    values = spec.to_metres(raw) if spec.to_metres is not None else raw
    divisor = scale if scale is not None else spec.divisor
    with np.errstate(invalid="ignore", over="ignore"):
        metres = values.astype(np.float64) / divisor if divisor else values.astype(np.float64)
        metres = metres.astype(np.float32)
        bad = invalid | ~np.isfinite(metres) | (metres <= 0)
    metres[bad] = 0.0
    return metres

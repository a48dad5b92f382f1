"""Resizing a sample to the stored size: RGB area-averaged, depth never blended.

RGB: Pillow's BOX filter (the mean of each source block; antialiased) when shrinking, bicubic
when enlarging. Depth: "valid-first nearest": each stored pixel takes the source pixel at the
centre of its block (``depth[1::2, 1::2]`` when halving), or, where that one has no reading,
the first valid pixel of its block in row-major order. Every stored depth is a real
measurement, valid and invalid are never averaged, and sparse maps (KITTI LiDAR) lose fewer
points than with plain nearest. On a dense map this is exactly nearest.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def half_size(width: int, height: int) -> tuple[int, int]:
    """The default stored size: the source halved (NYU 640x480 -> the paper's 320x240)."""
    return max(1, width // 2), max(1, height // 2)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 resized to ``size`` = (W, H) with an antialiasing filter."""
    h, w = rgb.shape[:2]
    if (w, h) == tuple(size):
        return rgb
    shrinking = size[0] <= w and size[1] <= h
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(rgb).resize(tuple(size), resample), dtype=np.uint8)


def _blocks(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: block start, block end (exclusive), centre pixel, in source pixels."""
    i = np.arange(n_dst)
    start = (i * n_src) // n_dst
    end = np.maximum(start + 1, ((i + 1) * n_src) // n_dst)
    centre = np.minimum(((2 * i + 1) * n_src) // (2 * n_dst), n_src - 1)
    return start, end, centre


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) metres (0 = invalid) resized to ``size`` = (W, H), valid-first nearest."""
    h, w = depth.shape
    if (w, h) == tuple(size):
        return depth
    dw, dh = size
    r0, r1, rc = _blocks(h, dh)
    c0, c1, cc = _blocks(w, dw)
    out = depth[np.ix_(rc, cc)].copy()
    missing = ~(out > 0)
    if not missing.any():
        return out
    for dy in range(int((r1 - r0).max())):
        rows = np.minimum(r0 + dy, r1 - 1)
        for dx in range(int((c1 - c0).max())):
            cols = np.minimum(c0 + dx, c1 - 1)
            candidate = depth[np.ix_(rows, cols)]
            take = missing & (candidate > 0)
            out[take] = candidate[take]
            missing &= ~take
            if not missing.any():
                return out
    return out


def scale_intrinsics(
    intrinsics: dict[str, float] | None, source: tuple[int, int], size: tuple[int, int]
) -> dict[str, float] | None:
    """Pinhole intrinsics of a ``source`` (W, H) image for the image resized to ``size``.

    Pixel centres map as x' = (x + 0.5) * sx - 0.5, so cx and cy move by the half-pixel too.
    """
    if intrinsics is None:
        return None
    sx, sy = size[0] / source[0], size[1] / source[1]
    return {
        "fx": intrinsics["fx"] * sx,
        "fy": intrinsics["fy"] * sy,
        "cx": (intrinsics["cx"] + 0.5) * sx - 0.5,
        "cy": (intrinsics["cy"] + 0.5) * sy - 0.5,
    }

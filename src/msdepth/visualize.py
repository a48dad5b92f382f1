"""Depth maps as pictures: a perceptual colormap (near = warm/bright), panels, PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_CMAP = "magma"
INVALID_COLOR = (40, 40, 40)


def colorize_depth(
    depth: np.ndarray,
    mask: np.ndarray | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = DEFAULT_CMAP,
) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) uint8; near is bright/warm, far is dark; invalid is grey.

    The colour follows inverse depth between ``vmin`` and ``vmax`` (2nd/98th percentiles of the
    valid depth when not given), which spreads indoor scenes evenly across the colormap.
    """
    from matplotlib import colormaps

    depth = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    out = np.empty((*depth.shape, 3), dtype=np.uint8)
    out[:] = INVALID_COLOR
    if not valid.any():
        return out
    values = depth[valid]
    lo = float(np.percentile(values, 2)) if vmin is None else float(vmin)
    hi = float(np.percentile(values, 98)) if vmax is None else float(vmax)
    lo = max(lo, 1e-6)
    hi = max(hi, lo * 1.001)
    inv = (1.0 / np.clip(values, lo, hi) - 1.0 / hi) / (1.0 / lo - 1.0 / hi)
    out[valid] = (colormaps[cmap](inv)[:, :3] * 255 + 0.5).astype(np.uint8)
    return out


def _to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image


def make_panel(images: list[np.ndarray], height: int | None = None, gap: int = 4) -> np.ndarray:
    """Side-by-side panel of RGB images (uint8 or float in [0, 1]), resized to one height."""
    tiles = [_to_uint8_rgb(im) for im in images]
    height = height or max(t.shape[0] for t in tiles)
    resized = []
    for t in tiles:
        if t.shape[0] != height:
            w = max(1, round(t.shape[1] * height / t.shape[0]))
            t = np.asarray(Image.fromarray(t).resize((w, height), Image.NEAREST))
        resized.append(t)
    width = sum(t.shape[1] for t in resized) + gap * (len(resized) - 1)
    panel = np.full((height, width, 3), 255, dtype=np.uint8)
    x = 0
    for t in resized:
        panel[:, x : x + t.shape[1]] = t
        x += t.shape[1] + gap
    return panel


def stack_rows(rows: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Stack panels vertically (padding narrower ones with white)."""
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    sheet = np.full((height, width, 3), 255, dtype=np.uint8)
    y = 0
    for r in rows:
        sheet[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0] + gap
    return sheet


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB uint8 image (or float in [0, 1]) as PNG, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_to_uint8_rgb(image)).save(path)
    return path

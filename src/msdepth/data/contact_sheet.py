"""Contact sheets: a grid of RGB | colour-mapped depth pairs, to judge a dataset at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from msdepth.data.prepared import open_dataset
from msdepth.errors import ConfigError
from msdepth.visualize import colorize_depth, make_panel, save_png, stack_rows


def pick_evenly(total: int, count: int) -> list[int]:
    """``count`` sample indices spread evenly over ``total`` (all of them when fewer)."""
    if total <= count:
        return list(range(total))
    return [round(i * (total - 1) / (count - 1)) if count > 1 else 0 for i in range(count)]


def contact_sheet(
    dataset: str | Path,
    split: str | None = None,
    count: int = 16,
    tile: tuple[int, int] = (160, 120),
    columns: int = 4,
) -> np.ndarray:
    """(H, W, 3) uint8 grid of ``count`` samples, each an RGB | depth pair of ``tile`` = (W, H)
    tiles, ``columns`` pairs per row. Depth is colour-mapped per sample (near = bright)."""
    if count < 1 or columns < 1:
        raise ConfigError(f"--count and --columns must be >= 1, got {count} and {columns}")
    if tile[0] < 8 or tile[1] < 8:
        raise ConfigError(f"tile size {tile[0]}x{tile[1]} is too small; use at least 8x8")
    ds = open_dataset(dataset, split)
    if len(ds) == 0:
        raise ConfigError(f"{dataset} split {ds.split!r} is empty; pick another with --split")
    pairs = []
    for i in pick_evenly(len(ds), count):
        sample = ds[i]
        rgb = np.asarray(Image.fromarray(sample.rgb).resize(tile, Image.BILINEAR))
        depth = np.asarray(
            Image.fromarray(colorize_depth(sample.depth, sample.mask)).resize(tile, Image.NEAREST)
        )
        pairs.append(make_panel([rgb, depth], gap=0))
    rows = [make_panel(pairs[r : r + columns], gap=6) for r in range(0, len(pairs), columns)]
    return stack_rows(rows, gap=6)


def save_contact_sheet(out: str | Path, dataset: str | Path, **kwargs) -> Path:
    """Write :func:`contact_sheet` of ``dataset`` as a PNG at ``out``."""
    return save_png(out, contact_sheet(dataset, **kwargs))

"""Short test clips written with PyAV (the video extra): callers skip when it is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def panning_clip(
    path: Path, frames: int = 10, size: tuple[int, int] = (64, 48), rate: int = 10
) -> Path:
    """An H.264 mp4 of a blocky random picture panning right by 2 pixels a frame."""
    from msdepth.data.video import VideoWriter

    w, h = size
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, (h // 8 + 1, (w + 2 * frames) // 8 + 1, 3))
    wide = np.kron(blocks, np.ones((8, 8, 1)))
    with VideoWriter(path, rate, size) as video:
        for i in range(frames):
            video.write(np.ascontiguousarray(wide[:h, 2 * i : 2 * i + w].astype(np.uint8)))
    return path

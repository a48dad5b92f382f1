"""The canonical view: show a narrow camera's image to the network at the training camera's scale.

The focal rule (`msdepth.inference.camera`) multiplies the network's depth by
``f_input / f_train``. That holds only where the network reads depth from apparent size, and a
narrow camera (a focal longer than the training camera's) magnifies near things beyond any
apparent size the network saw in training: there it falls back toward its training prior, too
far (docs/inference.md, "Camera and focal length"). Metric3D's other canonical-camera transform
avoids that: shrink the image by ``k = f_train / f_input`` so that everything in it has the
apparent size the training camera would give it, keep the frame's size by repeating its edge
pixels outward, predict, and take the centre back out. The depth of the shrunk image is then
the training camera's: no factor beyond ``input_width / reference_width``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def _inner(size: int, shrink: float) -> tuple[int, int]:
    """Start and length of the centred window of ``size * shrink`` pixels."""
    n = max(1, min(size, round(size * shrink)))
    return (size - n) // 2, n


def to_canonical(rgb: np.ndarray, shrink: float) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 shrunk by ``shrink`` (0 < shrink <= 1) into the centre of a frame
    of the same size, the border filled by repeating the shrunk image's edge pixels."""
    h, w = rgb.shape[:2]
    y0, sh = _inner(h, shrink)
    x0, sw = _inner(w, shrink)
    small = np.asarray(Image.fromarray(rgb).resize((sw, sh), Image.BILINEAR))
    return np.pad(small, ((y0, h - sh - y0), (x0, w - sw - x0), (0, 0)), mode="edge")


def from_canonical(log_depth: np.ndarray, shrink: float) -> np.ndarray:
    """The centre of a map predicted from `to_canonical`'s frame (any resolution, (h, w)),
    resized back to (h, w): the prediction for the original image, bilinear in log depth."""
    h, w = log_depth.shape
    y0, sh = _inner(h, shrink)
    x0, sw = _inner(w, shrink)
    centre = np.ascontiguousarray(log_depth[y0 : y0 + sh, x0 : x0 + sw], dtype=np.float32)
    return np.asarray(Image.fromarray(centre, mode="F").resize((w, h), Image.BILINEAR))

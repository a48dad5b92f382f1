"""Whole-frame prediction: the one pre/post-processing shared by `predict`, `evaluate` and ONNX.

The network sees a fixed input (304x228 for NYU) and predicts log depth at 74x55. For an image of
any size the method is, in this order:

1. resize the whole RGB image to the network input with Pillow's antialiased ``BILINEAR``
   (`to_network_input`; no crop, so the aspect ratio changes if it is not 4:3);
2. run the network (PyTorch or ONNX Runtime) -> log depth (N, 1, h, w);
3. upsample the **log** depth bilinearly (``align_corners=False``, PyTorch's convention) to the
   image's full size (`upsample_log_depth`; the PyTorch backend does this step with
   ``interpolate``, `TorchBackend.metric_depth`, to stay on PyTorch's threads), exponentiate;
4. multiply by the focal rule's factor ``f_input / f_train`` (`msdepth.inference.camera`); for
   an image of the training camera's field of view, or of unknown focal, that is the scale
   correction ``input_width / reference_width`` (`scale_correction`): training crops 304 px out
   of 320-px-wide frames at augmentation scale 1, so a whole frame squeezed into 304 px looks
   304/320 times smaller, and the paper's augmentation ("image scaled by s, depth divided by
   s") says the prediction must then be multiplied by 304/320.

Everything here is numpy and Pillow (no torch), so the ONNX path needs no PyTorch.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from msdepth.config import ModelConfig

RESIZE_FILTER = Image.BILINEAR  # antialiased when shrinking (Pillow scales the filter support)


def to_network_input(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, height, width) float32 RGB in [0, 1], the whole frame resized."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    if rgb.shape[:2] != (height, width):
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), RESIZE_FILTER))
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)


@functools.lru_cache(maxsize=32)
def _interpolation_matrix(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) float32 weights of 1-D linear interpolation, align_corners=False (PyTorch's
    rule); cached, read-only."""
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)  # PyTorch clamps negative source coordinates to the first pixel
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = src - i0
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, i0), 1.0 - w1)
    np.add.at(matrix, (rows, i1), w1)
    matrix = matrix.astype(np.float32)
    matrix.flags.writeable = False
    return matrix


def upsample_log_depth(log_depth: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) log depth -> (height, width) float32, bilinear with align_corners=False.

    Bilinear interpolation is separable, so it is two small matrix products; the result equals
    ``torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False)`` (to float32
    rounding).
    """
    log_depth = np.asarray(log_depth, dtype=np.float32)
    h, w = log_depth.shape
    rows = _interpolation_matrix(height, h)
    cols = _interpolation_matrix(width, w)
    return rows @ log_depth @ cols.T


def scale_correction(model: ModelConfig) -> float:
    """Factor applied to whole-frame depth: ``input_width / reference_width`` (304/320 = 0.95)."""
    return model.input_width / model.reference_width


def to_metric_depth(
    log_depth: np.ndarray, height: int, width: int, correction: float
) -> np.ndarray:
    """Network log depth (h, w) -> float32 metres at (height, width): upsample, exp, correct."""
    full = upsample_log_depth(log_depth, height, width)
    np.exp(full, out=full)
    full *= np.float32(correction)
    return full

"""What the loss compares against: log depth over the valid pixels of a batch.

The loader gives depth in metres at the output size with 0 where invalid. The log is taken
only where depth is valid (elsewhere it would be -inf), and with ``mask_min_max`` the pixels
equal to each image's minimum or maximum valid depth are masked too, as the paper did for NYU
(windows, doors and specular surfaces read as the sensor's extremes). Here the extremes are
those of the augmented 74x55 target, the map the loss actually sees.

Datasets of different cameras mix through one canonical focal length (`canonical_focal`,
recorded as ``model.train_focal``): each sample's depth is multiplied by canonical / its own
focal (`focal_factors`) when the loader reads it, before the augmentation's "image x s, depth /
s", which stays consistent with it (enlarging the image s times is a focal s times longer).
"""

from __future__ import annotations

import numpy as np
import torch

from msdepth.config import ModelConfig
from msdepth.data.prepared import PreparedDataset


def min_max_mask(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask`` without the pixels at each image's minimum or maximum valid depth."""
    lo = torch.where(mask, depth, torch.inf).amin(dim=(1, 2, 3), keepdim=True)
    hi = torch.where(mask, depth, -torch.inf).amax(dim=(1, 2, 3), keepdim=True)
    return mask & (depth > lo) & (depth < hi)


def log_depth_targets(
    depth: torch.Tensor, mask: torch.Tensor, mask_min_max: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(log depth, mask) for `scale_invariant_loss`; the log is 0 where the mask is False."""
    mask = mask.bool() & (depth > 0)
    if mask_min_max:
        mask = min_max_mask(depth, mask)
    return torch.where(mask, depth, 1.0).log(), mask


# ---- the canonical camera: depth targets of every camera referred to one focal length -------

# NYU Depth V2's Kinect: the canonical camera of datasets whose frames have their own cameras.
NYU_FX, NYU_WIDTH = 518.8579, 640


def canonical_focal(dataset: PreparedDataset, model: ModelConfig) -> tuple[float, str]:
    """(focal in pixels of the training frames, where it came from) for `model.train_focal`.

    ``model.train_focal`` when already set (a config, a resumed run); else the dataset's one
    camera (``meta.json`` intrinsics); else, for frames with their own cameras, NYU's Kinect at
    the dataset's width; else (no intrinsics) 0, "unknown".
    """
    if model.train_focal > 0:
        return model.train_focal, model.train_focal_source or "set in the config"
    width = dataset.image_size[0]
    if dataset.per_frame_intrinsics:
        return NYU_FX * width / NYU_WIDTH, (
            f"NYU Kinect fx {NYU_FX} px at {NYU_WIDTH} (canonical camera; the frames of "
            f"{dataset.path.name} have their own intrinsics)"
        )
    k = dataset.intrinsics
    if k and float(k.get("fx", 0)) > 0:
        return float(k["fx"]), f"meta.json intrinsics of {dataset.path.name} (fx at {width} px)"
    return 0.0, f"unknown: {dataset.path.name} has no intrinsics"


def focal_factors(dataset: PreparedDataset, focal: float) -> np.ndarray | None:
    """Per-sample depth factors ``focal / fx`` that take each frame's depth to the canonical
    camera (an object of apparent size a at focal f is at depth d; at focal F the same
    apparent size means depth d F / f). None when every factor is 1 or there are no
    intrinsics, so single-camera datasets train exactly as before."""
    table = dataset.frame_intrinsics()
    if table is None or focal <= 0:
        return None
    factors = (focal / table[:, 0]).astype(np.float32)
    if np.all(factors == 1.0):
        return None
    return factors

"""What the loss compares against: log depth over the valid pixels of a batch.

The loader gives depth in metres at the output size with 0 where invalid. The log is taken
only where depth is valid (elsewhere it would be -inf), and with ``mask_min_max`` the pixels
equal to each image's minimum or maximum valid depth are masked too, as the paper did for NYU
(windows, doors and specular surfaces read as the sensor's extremes). Here the extremes are
those of the augmented 74x55 target, the map the loss actually sees.
"""

from __future__ import annotations

import torch


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

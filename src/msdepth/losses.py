"""The scale-invariant error in log space (paper, "Loss")."""

from __future__ import annotations

import torch


def scale_invariant_loss(
    pred_log: torch.Tensor,
    target_log: torch.Tensor,
    mask: torch.Tensor,
    lam: float = 0.5,
) -> torch.Tensor:
    """Eigen et al.'s loss, per image over its valid pixels, averaged over the batch.

    With d = pred_log - target_log over the n valid pixels of one image:
    ``L = mean(d^2) - lam * mean(d)^2``. ``lam = 0`` is the plain masked L2 in log space,
    ``lam = 1`` is fully invariant to a global scale of the prediction. Images without any
    valid pixel contribute nothing (and produce no NaN); target values under the mask are
    never read, so NaN or -inf there is harmless.
    """
    if pred_log.shape != target_log.shape or pred_log.shape != mask.shape:
        raise ValueError(
            f"shapes differ: pred {tuple(pred_log.shape)}, target {tuple(target_log.shape)}, "
            f"mask {tuple(mask.shape)}"
        )
    mask = mask.bool()
    pred = pred_log.float().flatten(1)
    d = torch.where(mask.flatten(1), pred - target_log.float().flatten(1), 0.0)
    m = mask.flatten(1)
    n = m.sum(dim=1)
    has_pixels = n > 0
    n_safe = n.clamp(min=1).to(d.dtype)
    per_image = (d * d).sum(dim=1) / n_safe - lam * (d.sum(dim=1) / n_safe) ** 2
    # No Python `if` on a tensor: it would wait for the device at every training step. An
    # image without valid pixels has d = 0 everywhere, so its term is 0 (and its gradient);
    # a batch without any gives 0 / 1.
    images = has_pixels.sum().clamp(min=1)
    return (per_image * has_pixels).sum() / images

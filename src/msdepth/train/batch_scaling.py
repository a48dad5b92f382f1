"""Learning rates for batches larger than the paper's 32: the rule and its factor.

The paper's rates hold at batch 32. A GPU trains fastest at 128-512 images per step, and the
same number of samples then takes 4-16x fewer steps, each averaging more gradients. The usual
rules scale every rate with the global batch B (all processes together) against the reference
batch (``optim.reference_batch``, 32):

- ``linear``: rate x B / 32 (Goyal et al. 2017, "Accurate, large minibatch SGD"), the rule for
  SGD with momentum; it needs a warm-up, because the first steps of a randomly initialised
  network take the largest gradients;
- ``sqrt``: rate x sqrt(B / 32), the gentler rule (keeps the gradient noise per sample), which
  the paper's already large fully connected rate (0.1) tolerates better;
- ``none`` (the default): the rates as configured, whatever the batch.

Warm-up is `optim.warmup_steps` (linear from 0); docs/training.md gives the recipe per batch.
"""

from __future__ import annotations

import math

from msdepth.config import OptimConfig


def batch_lr_factor(cfg: OptimConfig, global_batch: int) -> float:
    """Multiplier of every learning rate for ``global_batch`` images per step under the rule."""
    ratio = global_batch / cfg.reference_batch
    if cfg.batch_lr_rule == "linear":
        return ratio
    if cfg.batch_lr_rule == "sqrt":
        return math.sqrt(ratio)
    return 1.0

"""Checkpoints for inference tests: seeded random models and models with a known constant output.

There is no trained model in the repository; these stand in for one. ``SMALL`` keeps the
network small for speed; the paper geometry is used where the geometry matters.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from msdepth.checkpoint import save_model
from msdepth.config import Config
from msdepth.models import MultiScaleDepth

SMALL = {"model.input_width": 96, "model.input_height": 72}


def random_checkpoint(path: Path, overrides: dict | None = None, seed: int = 0) -> Path:
    """A fine-stage checkpoint of a randomly initialised (seeded) model."""
    cfg = Config().with_overrides(SMALL if overrides is None else overrides)
    torch.manual_seed(seed)
    return save_model(path, MultiScaleDepth(cfg.model, stage="fine"), cfg, "fine", 1)


def constant_checkpoint(path: Path, depth_m: float, overrides: dict | None = None) -> Path:
    """A model whose network output is log(depth_m) at every pixel, whatever the image."""
    cfg = Config().with_overrides(SMALL if overrides is None else overrides)
    model = MultiScaleDepth(cfg.model, stage="fine")
    with torch.no_grad():
        model.fine.fine4.weight.zero_()
        model.fine.fine4.bias.fill_(math.log(depth_m))
    return save_model(path, model, cfg, "fine", 1)

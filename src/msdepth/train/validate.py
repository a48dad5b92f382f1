"""Validation during training: the loss and the field's metrics on the held-out split.

A fast proxy of the full protocol (`msdepth evaluate`): centre-cropped inputs, predictions at
the network's 74x55 output against the nearest-sampled target of the same size, metrics per
image (`MetricAccumulator`) clamped to ``eval.min_depth..eval.max_depth``. "Best" checkpoints
are chosen by its ``abs_rel``; the fine stage's refinements must also be `clearly_better` than
its step 0 on the same images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple

import numpy as np
import torch

from msdepth.config import Config
from msdepth.data import make_eval_loader
from msdepth.data.prepared import PreparedDataset
from msdepth.losses import scale_invariant_loss
from msdepth.metrics import MetricAccumulator
from msdepth.models import MultiScaleDepth
from msdepth.train.targets import focal_factors, log_depth_targets


class Validation(NamedTuple):
    """Metrics (``loss`` plus `msdepth.metrics.METRIC_NAMES`) and the first batch for a panel."""

    metrics: dict[str, float]
    image: torch.Tensor  # (n, 3, H, W) RGB of the first few images
    depth: torch.Tensor  # (n, 1, h, w) target metres
    mask: torch.Tensor
    pred: torch.Tensor  # (n, 1, h, w) predicted metres
    per_image: dict[str, list[float]] | None = None  # abs_rel and delta1 of each image, in order


# Standard errors by which a refinement must beat the reference on both metrics (about 98% one-
# sided): at 1,000 training images a fine state 1.2% better in mean validation abs_rel and +0.007
# in d1 was 0.003 worse in d1 on the 200 test rooms; the mean alone does not tell noise apart.
KEEP_Z = 2.0


def clearly_better(
    candidate: Mapping[str, Sequence[float]],
    reference: Mapping[str, Sequence[float]],
    z: float = KEEP_Z,
) -> bool:
    """Whether ``candidate`` has lower abs_rel *and* higher delta1 than ``reference`` on the
    same validation images, each by at least ``z`` standard errors of the per-image differences
    (a paired test: image difficulty cancels, only the change between the two models counts)."""
    for name, sign in (("abs_rel", -1.0), ("delta1", 1.0)):
        gain = sign * (np.asarray(candidate[name]) - np.asarray(reference[name]))
        if gain.size < 2 or gain.size != len(reference[name]):
            return False
        stderr = float(gain.std(ddof=1)) / math.sqrt(gain.size)
        if not gain.mean() > z * stderr:
            return False
    return True


def eval_split(splits: dict) -> str | None:
    """The split to validate on: ``val`` when the dataset has one, else ``test``."""
    for name in ("val", "test"):
        if name in splits:
            return name
    return None


@torch.no_grad()
def validate(
    model: MultiScaleDepth,
    dataset: PreparedDataset,
    config: Config,
    device: torch.device,
    autocast: AbstractContextManager,
    panel_images: int = 4,
) -> Validation:
    """Score ``model`` (its current stage) on ``dataset``; leaves the model's mode unchanged."""
    was_training = model.training
    model.eval()
    loader = make_eval_loader(
        dataset,
        config.train.batch_size,
        model.geometry.input_hw,
        model.output_hw,
        depth_factors=focal_factors(dataset, config.model.train_focal),  # the canonical camera
        count=config.train.val_images or None,
    )
    accumulator = MetricAccumulator(config.eval.min_depth, config.eval.max_depth)
    loss_sum, images, first = 0.0, 0, None
    for batch in loader:
        image = batch.image.to(device)
        if config.train.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with autocast:
            pred_log = model(image)
        pred_log = pred_log.float().cpu()
        target, mask = log_depth_targets(batch.depth, batch.mask, config.train.mask_min_max)
        n = len(image)
        loss_sum += (
            float(scale_invariant_loss(pred_log, target, mask, config.train.loss_lambda)) * n
        )
        images += n
        pred = pred_log.exp()
        for i in range(n):
            accumulator.update(pred[i, 0], batch.depth[i, 0], batch.mask[i, 0])
        if first is None:
            k = min(panel_images, n)
            first = (batch.image[:k], batch.depth[:k], batch.mask[:k], pred[:k])
    model.train(was_training)
    metrics = {"loss": loss_sum / max(images, 1), **accumulator.compute()}
    assert first is not None, "validation split is empty"
    per_image = {name: [m[name] for m in accumulator.per_image] for name in ("abs_rel", "delta1")}
    return Validation(metrics, *first, per_image)

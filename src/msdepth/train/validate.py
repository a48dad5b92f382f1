"""Validation during training: the loss and the field's metrics on the held-out split.

A fast proxy of the full protocol (`msdepth evaluate`): centre-cropped inputs, predictions at
the network's 74x55 output against the nearest-sampled target of the same size, metrics per
image (`MetricAccumulator`) clamped to ``eval.min_depth..eval.max_depth``. "Best" checkpoints
are chosen by its ``abs_rel``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple

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
    return Validation(metrics, *first)

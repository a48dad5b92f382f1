"""SGD with the paper's per-layer learning rates, and the learning-rate schedule.

Paper, "Training": SGD with momentum 0.9; coarse conv1-5 at 0.001, coarse fc6-7 at 0.1, fine
conv layers at 0.001 / 0.01 / 0.001, all times a global factor (`optim.lr_scale`). Each stage's
optimiser holds only the parameters that stage trains: the fine stage never sees the coarse
network (frozen, paper's stage 2), and the coarse stage never sees the fine one.
"""

from __future__ import annotations

import math

import torch

from msdepth.config import OptimConfig
from msdepth.models import MultiScaleDepth
from msdepth.models.multiscale import Stage


def layer_learning_rates(cfg: OptimConfig, stage: Stage) -> dict[str, float]:
    """Learning rate of each layer the stage trains (``lr_scale`` applied), by module name."""
    if stage == "coarse":
        rates = {f"coarse.coarse{i}": cfg.coarse_conv_lr for i in range(1, 6)}
        # BatchNorm layers (model.norm = "batch") train at their conv layer's rate
        rates.update({f"coarse.norm{i}": cfg.coarse_conv_lr for i in range(1, 6)})
        rates.update({"coarse.coarse6": cfg.coarse_fc_lr, "coarse.coarse7": cfg.coarse_fc_lr})
    else:
        rates = dict(zip(("fine.fine1", "fine.fine3", "fine.fine4"), cfg.fine_lrs, strict=True))
    return {name: lr * cfg.lr_scale for name, lr in rates.items()}


def param_groups(model: MultiScaleDepth, cfg: OptimConfig, stage: Stage) -> list[dict]:
    """One SGD param group per paper layer, named after it, with its base learning rate."""
    modules = dict(model.named_modules())
    groups = []
    for name, lr in layer_learning_rates(cfg, stage).items():
        params = [p for p in modules[name].parameters() if p.requires_grad]
        if params or not name.startswith("coarse.norm"):  # no empty groups for Identity
            groups.append({"name": name, "params": params, "lr": lr, "base_lr": lr})
    return groups


# Fused SGD runs on CPU from PyTorch 2.4 (on CUDA earlier); older versions use foreach.
FUSED_SGD = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


def make_optimizer(
    model: MultiScaleDepth, cfg: OptimConfig, stage: Stage, fused: bool = True
) -> torch.optim.Optimizer:
    """SGD (the paper's) or AdamW over the stage's layers only, one group per paper layer.

    ``fused``: one fused kernel per step, else multi-tensor ``foreach`` kernels (fused reads and
    writes each weight once: ~2x faster on our CPU). AdamW's weight decay is decoupled.
    """
    kernel = {"fused": True} if fused and FUSED_SGD else {"foreach": True}
    groups = param_groups(model, cfg, stage)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(
            groups, lr=groups[0]["lr"], betas=cfg.betas, weight_decay=cfg.weight_decay, **kernel
        )
    return torch.optim.SGD(
        groups,
        lr=cfg.coarse_conv_lr,  # every group sets its own
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        **kernel,
    )


def lr_factor(step: int, total_steps: int, cfg: OptimConfig) -> float:
    """Multiplier of every base rate at ``step`` (0-based) of a stage of ``total_steps``.

    Linear warm-up over ``warmup_steps``, then ``constant`` (the paper), ``cosine`` (to 0 at
    the last step) or ``step`` (x0.1 after two thirds of the steps).
    """
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant" or total_steps <= cfg.warmup_steps:
        return 1.0
    progress = (step - cfg.warmup_steps) / (total_steps - cfg.warmup_steps)
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 0.1 if progress >= 2 / 3 else 1.0  # "step"


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Scale every group's base rate by ``factor`` (plain floats: no device sync)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor

"""Named recipes that depart from the paper, each chosen by a measurement (docs/training.md).

``Config()`` is the paper. A preset is a set of overrides applied on top of it, before any
``--config`` file and ``--set``:

- ``paper``: nothing changed (Eigen et al. 2014: SGD, momentum 0.9, batch 32, per-layer rates,
  constant schedule, scale augmentation 1-1.5).
- ``quick``: training from random weights in minutes on a CPU (what ``msdepth quickstart``
  and ``make demo`` use). AdamW with a short warm-up and a cosine decay to the end of the run,
  batch 8, no scale augmentation. Each choice and its learning curve (held-out synthetic
  d1 against training images seen, ``benchmarks/bench_learning.py``) is in docs/training.md.
"""

from __future__ import annotations

from typing import Any

from msdepth.config import Config
from msdepth.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "optim.optimizer": "adamw",
        "optim.coarse_conv_lr": 3e-4,
        "optim.coarse_fc_lr": 3e-4,
        "optim.fine_lrs": (1e-4, 1e-4, 1e-5),
        "optim.weight_decay": 0.01,
        "optim.schedule": "cosine",
        "optim.warmup_steps": 25,
        "train.batch_size": 8,
        "augment.scale_max": 1.0,
    },
}


# The quick recipe's learning curve on synthetic rooms (benchmarks/bench_learning.py, fp32, 8000
# training rooms, 95% coarse / 5% fine): training images seen (coarse + fine) -> held-out
# metrics of the kept model. quickstart reads it to tell a user on a slow machine how many
# minutes would beat the constant baseline. Measured 2026-12-02 on a 2-core AMD EPYC (Zen 5).
QUICK_CURVE: dict[int, dict[str, Any]] = {
    1000: {"delta1": 0.415, "abs_rel": 0.357, "rmse": 1.200, "beats_constant": True},
    2000: {"delta1": 0.441, "abs_rel": 0.347, "rmse": 1.130, "beats_constant": True},
    4000: {"delta1": 0.555, "abs_rel": 0.291, "rmse": 0.949, "beats_constant": True},
    8000: {"delta1": 0.608, "abs_rel": 0.257, "rmse": 0.861, "beats_constant": True},
    16000: {"delta1": 0.653, "abs_rel": 0.225, "rmse": 0.781, "beats_constant": True},
    32000: {"delta1": 0.708, "abs_rel": 0.196, "rmse": 0.686, "beats_constant": True},
}


def preset_config(name: str, base: Config | None = None) -> Config:
    """``base`` (the paper's defaults when None) with the preset ``name`` applied."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return (base or Config()).with_overrides(PRESETS[name], source=f"preset {name}")

"""Per-step losses kept on the device, read back only at log intervals; NaN/inf detection.

Reading a loss (``loss.item()``) waits for the device, so the loop does it once per
``train.log_every`` steps (and before each checkpoint), not every step. The readback names the
first step whose loss was not finite, so a divergence is reported at the step it happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from msdepth.errors import MsdepthError
from msdepth.train.distributed import Distributed


class TrainingDivergedError(MsdepthError):
    """The loss became NaN or infinite; training stopped with the last good checkpoint kept."""


@dataclass
class LossReport:
    """Losses of the steps since the last readback (averaged over ranks)."""

    last_step: int
    mean: float
    steps: int
    bad_step: int | None = None  # first step whose loss was NaN or inf
    bad_value: float = math.nan


class LossWatch:
    """Collects loss tensors without syncing; `read` returns their mean (one sync)."""

    def __init__(self, dist: Distributed):
        self.dist = dist
        self.pending: list[torch.Tensor] = []
        self.first_step = 0

    def add(self, step: int, loss: torch.Tensor) -> None:
        """Record the loss of ``step`` (1-based: the step just completed)."""
        if not self.pending:
            self.first_step = step
        self.pending.append(loss.detach().float())

    def read(self) -> LossReport | None:
        """Mean of the pending losses over steps and ranks, or None when nothing is pending."""
        if not self.pending:
            return None
        values = self.dist.all_mean(torch.stack(self.pending)).cpu()
        first, n = self.first_step, len(self.pending)
        self.pending = []
        report = LossReport(first + n - 1, float(values.mean()), n)
        bad = (~torch.isfinite(values)).nonzero()
        if len(bad):
            i = int(bad[0, 0])
            report.bad_step, report.bad_value = first + i, float(values[i])
        return report

"""A wall-clock budget for one training stage (`train.max_minutes`; 0 means none).

When the budget runs out the stage stops at the next step boundary and ends as if its step
count had been reached: final validation, final checkpoint, ``RUN/model.safetensors``.
"""

from __future__ import annotations

import time


class TimeBudget:
    """Minutes allowed from creation; `expired()` is a cheap clock read (no device sync)."""

    def __init__(self, minutes: float):
        self.seconds = max(0.0, float(minutes)) * 60.0
        self.start = time.monotonic()

    @property
    def limited(self) -> bool:
        return self.seconds > 0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def expired(self) -> bool:
        return self.limited and self.elapsed() >= self.seconds

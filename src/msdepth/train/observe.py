"""Watching a run: progress bar, ``log.jsonl``, TensorBoard, and depth panels as PNG files.

Only rank 0 observes; on other ranks every method does nothing. ``RUN/log.jsonl`` gets one
JSON object per line (``kind`` = ``train``, ``val``, ``checkpoint``, ``stage``, ``diverged``),
``RUN/panels/`` a PNG per panel (rows of RGB | target | prediction, colour-mapped on the
target's range, like the tutorial's periodic dumps), and ``RUN/tensorboard/`` the same scalars
and panels when the tensorboard package is installed and ``train.tensorboard`` is on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msdepth.visualize import colorize_depth, make_panel, save_png, stack_rows


def depth_panel(
    image: torch.Tensor, depth: torch.Tensor, mask: torch.Tensor, pred: torch.Tensor, rows: int = 4
) -> np.ndarray:
    """Rows of RGB | target | prediction (both coloured on the target's range), uint8 RGB."""
    sheet = []
    for i in range(min(rows, len(image))):
        rgb = image[i].detach().float().permute(1, 2, 0).cpu().numpy()
        target = depth[i, 0].detach().float().cpu().numpy()
        valid = mask[i, 0].detach().cpu().numpy().astype(bool) & (target > 0)
        predicted = pred[i, 0].detach().float().cpu().numpy()
        lo, hi = np.percentile(target[valid], (2, 98)) if valid.any() else (None, None)
        sheet.append(
            make_panel(
                [
                    rgb,
                    colorize_depth(target, valid, lo, hi),
                    colorize_depth(predicted, None, lo, hi),
                ],
                height=rgb.shape[0],
            )
        )
    return stack_rows(sheet)


class Observer:
    """Progress bar, JSON-lines log, TensorBoard and PNG panels for one run (rank 0 only)."""

    def __init__(
        self, run: Path, active: bool, progress: bool, tensorboard: bool, start: bool = True
    ):
        self.run = run
        self.active = active
        self.progress = progress and active
        self.tensorboard = tensorboard
        self.bar: Any = None
        self.writer: Any = None
        if start:
            self.open()

    def open(self) -> None:
        """Start writing (the run folder exists by now)."""
        if self.active and self.tensorboard and self.writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # optional dependency: PNG panels and log.jsonl still work
                return
            self.writer = SummaryWriter(log_dir=str(self.run / "tensorboard"))

    # ---- stage and step --------------------------------------------------------------------
    def start_stage(self, stage: str, start_step: int, total_steps: int) -> None:
        self.log({"kind": "stage", "stage": stage, "start_step": start_step, "total": total_steps})
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total_steps, initial=start_step, desc=stage, unit="step", dynamic_ncols=True
            )

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def end_stage(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        self.end_stage()
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # ---- records ---------------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``RUN/log.jsonl``."""
        if not self.active:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.run / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def message(self, text: str) -> None:
        """A line for the user that does not break the progress bar."""
        if not (self.active and self.progress):
            return
        from tqdm.auto import tqdm

        tqdm.write(text)

    def train_scalars(
        self, stage: str, step: int, loss: float, lr: dict[str, float], images_per_s: float
    ) -> None:
        self.log(
            {
                "kind": "train",
                "stage": stage,
                "step": step,
                "loss": loss,
                "lr": lr,
                "img_per_s": round(images_per_s, 2),
            }
        )
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{images_per_s:.1f}", refresh=False)
        if self.writer is not None:
            self.writer.add_scalar(f"{stage}/loss", loss, step)
            self.writer.add_scalar(f"{stage}/images_per_s", images_per_s, step)
            for name, value in lr.items():
                self.writer.add_scalar(f"{stage}/lr/{name}", value, step)

    def val_scalars(self, stage: str, step: int, metrics: dict[str, float]) -> None:
        self.log({"kind": "val", "stage": stage, "step": step, "metrics": metrics})
        self.message(
            f"{stage} step {step}: val loss {metrics['loss']:.4f}  abs_rel "
            f"{metrics['abs_rel']:.3f}  rmse {metrics['rmse']:.3f}  delta1 {metrics['delta1']:.3f}"
        )
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"{stage}/val/{name}", value, step)

    def panel(self, name: str, step: int, panel: np.ndarray) -> None:
        """``RUN/panels/<name>-<step>.png`` and a TensorBoard image under ``name``."""
        if not self.active:
            return
        save_png(self.run / "panels" / f"{name}-{step:08d}.png", panel)
        if self.writer is not None:
            self.writer.add_image(name, panel, step, dataformats="HWC")


class Throughput:
    """Images per second of training alone (validation and checkpoints excluded).

    The first step is left out: it pays once for the loader's start (worker processes, the first
    batch) and the kernels' selection, ~2x a later step on a 1-core CPU, and a short stage
    planned from it would end far inside its budget. Steps 2-4 are still slow where kernels
    warm up (bf16 on a Zen 5 EPYC: 0.4 s a step against 0.185 from step 5 on), so once a stage
    has run ``2 * SETTLE_STEPS`` steps its rate counts only the steps after ``SETTLE_STEPS``
    (`msdepth quickstart` plans from a 12-step probe).
    """

    SETTLE_STEPS = 4

    def __init__(self, images_per_step: int):
        self.images_per_step = images_per_step
        self.start = time.perf_counter()
        self.running = True
        self.steps = 0
        self.window_images = 0
        self.window_time = 0.0
        self.total_images = 0
        self.total_time = 0.0
        self.settled: tuple[int, float] | None = None  # (images, seconds) at SETTLE_STEPS

    def add_step(self) -> None:
        self.steps += 1
        if self.steps == 1:  # everything until now is start-up: not a training rate
            self.start = time.perf_counter()
            self.window_time = self.total_time = 0.0
            return
        self.window_images += self.images_per_step
        if self.steps == self.SETTLE_STEPS:
            self._tick()
            self.settled = (self.total_images + self.window_images, self.total_time)

    def _tick(self) -> None:
        if self.running:
            now = time.perf_counter()
            self.window_time += now - self.start
            self.total_time += now - self.start
            self.start = now

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count (validation, checkpoints)."""
        self._tick()
        self.running = False
        try:
            yield
        finally:
            self.start = time.perf_counter()
            self.running = True

    def rate(self) -> float:
        """Images per second since the last call (read after a device sync for a true figure)."""
        self._tick()
        rate = self.window_images / self.window_time if self.window_time > 0 else 0.0
        self.total_images += self.window_images
        self.window_images, self.window_time = 0, 0.0
        return rate

    def overall(self) -> float:
        """Images per second over the stage (after its warm-up steps once it has enough)."""
        self._tick()
        self.total_images += self.window_images
        self.window_images = 0
        images, seconds = self.total_images, self.total_time
        if self.settled is not None and self.steps >= 2 * self.SETTLE_STEPS:
            images, seconds = images - self.settled[0], seconds - self.settled[1]
        return images / seconds if seconds > 0 else 0.0

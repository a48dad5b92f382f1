"""Train state beside each step checkpoint, and which checkpoints a run keeps.

A step checkpoint ``RUN/checkpoints/<stage>-<step:08d>.safetensors`` (weights + config, see
`msdepth.checkpoint`) has a ``.state.pt`` beside it holding what `--resume` needs to continue
exactly: the step, the optimiser's momentum buffers, every rank's RNG state (dropout draws from
the global torch RNG), the best validation score so far and the loss history. It is written
with `torch.save` but holds only tensors, numbers, strings, lists and dicts, and is read with
``torch.load(..., weights_only=True)``: no arbitrary pickle. Files are written to a temporary
name and renamed, so a crash never leaves half a file; a checkpoint without its state file
(a crash between the two) is ignored by `--resume`.

Kept: the last ``train.keep_last`` step checkpoints of each stage, and the best one on
validation (lowest ``abs_rel``) as ``<stage>-best.safetensors``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from msdepth.checkpoint import list_checkpoints
from msdepth.config import Config
from msdepth.errors import CheckpointError, ConfigError

STATE_FORMAT = "msdepth-train-state"
STATE_VERSION = 1
STATE_SUFFIX = ".state.pt"

# Settings a resumed run may change: they decide how a run is run and watched, not what it
# computes (precision and memory layout change rounding only; step counts extend the run).
RESUMABLE_CHANGES = {
    "train.workers",
    "train.log_every",
    "train.panel_every",
    "train.val_every",
    "train.val_images",
    "train.checkpoint_every",
    "train.keep_last",
    "train.max_minutes",
    "train.tensorboard",
    "train.compile",
    "train.compile_mode",
    "train.loader",
    "train.detect_anomaly",
    "train.device",
    "train.precision",
    "train.channels_last",
    "train.fused_sgd",
    "train.reuse_memory",
    "train.flush_denormal",
    "train.coarse_steps",
    "train.fine_steps",
}


@dataclass
class TrainState:
    """Everything besides the weights that a resumed stage needs."""

    stage: str
    step: int
    optimizer: dict[str, Any]
    rng_cpu: list[torch.Tensor]  # one per rank
    rng_cuda: list[torch.Tensor] = field(default_factory=list)  # one per rank, or empty
    best_abs_rel: float = float("inf")
    loss_history: list[tuple[int, float]] = field(default_factory=list)
    finished: bool = False  # the stage's last checkpoint (steps reached or time budget spent)
    total_steps: int = 0  # the stage's step count when written (0: unknown, older states)
    # "best" must not fall below this validation delta1 (the fine stage's step 0)
    min_delta1: float = 0.0
    # ... and must be `clearly_better` than these per-image validation metrics (fine: step 0's)
    reference: dict[str, list[float]] | None = None

    @property
    def world_size(self) -> int:
        return len(self.rng_cpu)


def state_path(checkpoint: Path) -> Path:
    """The ``.state.pt`` file beside a step checkpoint."""
    return checkpoint.with_name(checkpoint.name.removesuffix(".safetensors") + STATE_SUFFIX)


def save_train_state(path: Path, state: TrainState) -> None:
    """Write the state atomically (temporary file, then rename)."""
    history = torch.tensor(state.loss_history, dtype=torch.float64).reshape(-1, 2)
    payload = {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "stage": state.stage,
        "step": state.step,
        "optimizer": state.optimizer,
        "rng_cpu": torch.stack(state.rng_cpu),
        "rng_cuda": torch.stack(state.rng_cuda) if state.rng_cuda else torch.empty(0),
        "best_abs_rel": state.best_abs_rel,
        "loss_history": history,
        "finished": state.finished,
        "total_steps": state.total_steps,
        "min_delta1": state.min_delta1,
        "reference": state.reference,
    }
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_train_state(path: Path) -> TrainState:
    """Read a state file written by `save_train_state` (tensors and plain values only)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(
            f"{path} is missing: this checkpoint cannot be resumed; resume from another"
        ) from None
    except Exception as exc:  # corrupt, truncated or not ours: pickle errors vary
        raise CheckpointError(f"{path} is not a readable train state ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not an msdepth train state")
    try:
        history = payload["loss_history"].tolist()
        state = TrainState(
            stage=payload["stage"],
            step=int(payload["step"]),
            optimizer=payload["optimizer"],
            rng_cpu=[r.clone() for r in payload["rng_cpu"]],  # own storage for set_rng_state
            rng_cuda=[r.clone() for r in payload["rng_cuda"]],
            best_abs_rel=float(payload["best_abs_rel"]),
            loss_history=[(int(s), float(v)) for s, v in history],
            finished=bool(payload["finished"]),
            total_steps=int(payload.get("total_steps", 0)),
            min_delta1=float(payload.get("min_delta1", 0.0)),
            reference=payload.get("reference"),
        )
        valid = (
            state.stage in ("coarse", "fine")
            and state.step >= 0
            and isinstance(state.optimizer, dict)
            and {"state", "param_groups"} <= set(state.optimizer)
            and all(r.dtype == torch.uint8 for r in state.rng_cpu)
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{path} is a damaged train state ({type(exc).__name__}: {exc})"
        ) from None
    if not valid:
        raise CheckpointError(f"{path} is a damaged train state (values of the wrong kind)")
    return state


def resumable_checkpoints(run: Path, stage: str) -> list[Path]:
    """Step checkpoints of a stage that have their state file, oldest first."""
    return [p for p in list_checkpoints(run, stage) if state_path(p).is_file()]


def check_resume_compatible(saved: Config, requested: Config, run: Path) -> None:
    """Refuse a resume that would change what the run computes (e.g. another batch size)."""
    old, new = saved.to_dict(), requested.to_dict()
    for section, values in old.items():
        for key, before in values.items():
            dotted = f"{section}.{key}"
            after = new[section][key]
            if before != after and dotted not in RESUMABLE_CHANGES:
                raise ConfigError(
                    f"{run} was trained with {dotted} = {before!r}; --resume cannot change it "
                    f"to {after!r} (drop that change, or train into a new --out folder)"
                )


class CheckpointKeeper:
    """Names step and best checkpoints of a run and deletes all but the last K step ones."""

    def __init__(self, run: Path, keep_last: int):
        self.folder = run / "checkpoints"
        self.run = run
        self.keep_last = keep_last

    def step_path(self, stage: str, step: int) -> Path:
        return self.folder / f"{stage}-{step:08d}.safetensors"

    def best_path(self, stage: str) -> Path:
        return self.folder / f"{stage}-best.safetensors"

    def prune(self, stage: str) -> None:
        """Delete a stage's step checkpoints older than the last ``keep_last``."""
        for old in list_checkpoints(self.run, stage)[: -self.keep_last]:
            for path in (old, old.with_suffix(".json"), state_path(old)):
                path.unlink(missing_ok=True)

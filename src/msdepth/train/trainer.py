"""The paper's two-stage training: coarse alone, then fine on a frozen coarse network.

`train` is the whole API; `Trainer.run_stage` is the loop (data, forward, loss, backward, step,
then the periodic work: log, panel, validation, checkpoint). A stage is resumable bit for bit:
its data stream is indexed by step, and each checkpoint carries the optimiser and RNG state.
Under ``torchrun`` the same code runs DistributedDataParallel (see `distributed`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import torch
from torch.nn.parallel import DistributedDataParallel

from msdepth.allocator import reusing_freed_memory
from msdepth.checkpoint import (
    list_checkpoints,
    load_weights,
    read_info,
    resolve_checkpoint,
    save_model,
)
from msdepth.config import Config
from msdepth.data import Batch, open_dataset
from msdepth.data.in_memory import make_training_stream
from msdepth.errors import CheckpointError, ConfigError
from msdepth.losses import scale_invariant_loss
from msdepth.models import MultiScaleDepth
from msdepth.models.multiscale import Stage
from msdepth.speed import flushing_denormals, resolve_precision, resolve_workers, tune_device
from msdepth.train.batch_scaling import batch_lr_factor
from msdepth.train.distributed import Distributed, setup_distributed
from msdepth.train.loss_watch import LossReport, LossWatch, TrainingDivergedError
from msdepth.train.observe import Observer, Throughput, depth_panel
from msdepth.train.optim import lr_factor, make_optimizer, set_learning_rates
from msdepth.train.state import (
    CheckpointKeeper,
    TrainState,
    check_resume_compatible,
    load_train_state,
    resumable_checkpoints,
    save_train_state,
    state_path,
)
from msdepth.train.targets import canonical_focal, focal_factors, log_depth_targets
from msdepth.train.time_budget import TimeBudget
from msdepth.train.validate import clearly_better, eval_split, validate

STAGES: tuple[Stage, ...] = ("coarse", "fine")
# DDP's per-forward buffer sync switch was renamed in newer PyTorch (the old name warns).
_NO_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else {"broadcast_buffers": False}
)


@dataclass
class StageResult:
    """What one stage did."""

    stage: str
    steps: int  # steps completed (fewer than total_steps when the time budget ran out)
    total_steps: int
    checkpoint: Path | None  # the stage's last step checkpoint
    best_checkpoint: Path | None  # lowest validation abs_rel, when validated
    final_metrics: dict[str, float] = field(default_factory=dict)  # validation at the end
    best_metrics: dict[str, float] = field(default_factory=dict)  # of the kept result
    loss_history: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss)
    images_per_second: float = 0.0  # training throughput over all ranks (no validation)
    stopped_by_budget: bool = False
    skipped: bool = False  # already finished in this run folder (resume)
    kept_step: int = 0  # the step of what the stage hands on (fine: its best validated state)
    validations: list[tuple[int, dict[str, float]]] = field(default_factory=list)

    @property
    def result(self) -> Path | None:
        """What the stage hands on: the fine stage's best validated state, else the last."""
        if self.stage == "fine" and self.best_checkpoint is not None:
            return self.best_checkpoint
        return self.checkpoint


@dataclass
class TrainResult:
    """A finished run: its folder, resolved config, final model and per-stage results."""

    run: Path
    config: Config
    model_path: Path | None
    stages: dict[str, StageResult] = field(default_factory=dict)
    device: str = "cpu"  # the device it trained on (train.device resolved)

    def to_dict(self) -> dict:
        """Plain values for JSON (`msdepth train --json`)."""
        stages = {}
        for name, r in self.stages.items():
            item = dataclasses.asdict(r)
            item["checkpoint"] = str(r.checkpoint) if r.checkpoint else None
            item["best_checkpoint"] = str(r.best_checkpoint) if r.best_checkpoint else None
            stages[name] = item
        return {
            "run": str(self.run),
            "model": str(self.model_path) if self.model_path else None,
            "device": self.device,
            "stages": stages,
            "config": self.config.to_dict(),
        }


def resume_config(run: str | Path) -> Config:
    """The resolved config a run folder was trained with (``RUN/config.toml``)."""
    path = Path(run) / "config.toml"
    if not path.is_file():
        raise CheckpointError(f"{run} has no config.toml: there is no run to resume there")
    return Config.from_toml(path)


def parse_stages(stages: str | Sequence[str]) -> tuple[Stage, ...]:
    """``"both"``, ``"coarse"``, ``"fine"`` or a sequence of stages, in the paper's order."""
    names = (
        ["coarse", "fine"] if stages == "both" else [stages] if isinstance(stages, str) else stages
    )
    unknown = [s for s in names if s not in STAGES]
    if unknown or not names:
        raise ConfigError(f"stage {unknown[0] if unknown else ''!r} is not coarse, fine or both")
    return tuple(s for s in STAGES if s in names)  # type: ignore[misc]


def stage_seed(config: Config, stage: Stage) -> int:
    """Seed of a stage's initial weights and data stream (different for the two stages)."""
    return config.train.seed * 2 + STAGES.index(stage)


def build_model(config: Config, stage: Stage) -> MultiScaleDepth:
    """A stage's initial network, the same on every rank; only the stage's layers trainable."""
    torch.manual_seed(stage_seed(config, stage))
    model = MultiScaleDepth(config.model, stage=stage)
    if stage == "coarse":
        model.fine.requires_grad_(False)  # unused in stage 1: no gradient, not in the optimiser
    return model


def train(
    config: Config | None,
    data: str | Path,
    out: str | Path,
    stages: str | Sequence[str] = ("coarse", "fine"),
    init: str | Path | None = None,
    resume: bool | str | Path = False,
    progress: bool = True,
    max_minutes: float | None = None,
) -> TrainResult:
    """Train the paper's network on a prepared dataset into the run folder ``out``.

    ``config`` None means the paper's defaults, or the run's own config when resuming.
    ``init`` is the coarse checkpoint (file or run folder) the fine stage starts from; without
    it the fine stage takes the newest coarse checkpoint in ``out``. ``resume`` (True or a
    checkpoint) continues from the newest resumable checkpoint exactly; finished stages are
    skipped. ``max_minutes`` overrides ``train.max_minutes``, a wall-clock budget per stage.
    """
    out = Path(out)
    stage_list = parse_stages(stages)
    if init is not None and stage_list != ("fine",):
        raise ConfigError(
            "--init gives the fine stage its coarse network: use it with --stage fine"
        )
    if config is None:
        config = resume_config(out) if resume else Config()
    if max_minutes is not None:
        config = config.replace("train", max_minutes=max_minutes)
    dist = setup_distributed(config.train.device)
    try:
        trainer = Trainer(config, Path(data), out, dist, progress)
        return trainer.run(stage_list, init, resume)
    finally:
        dist.close()


class Trainer:
    """One run folder: datasets, config, observer; `run_stage` trains one stage."""

    def __init__(self, config: Config, data: Path, run: Path, dist: Distributed, progress: bool):
        self.train_set = open_dataset(data, "train")
        val_split = eval_split(self.train_set.meta["splits"])
        self.val_set = open_dataset(data, val_split) if val_split else None
        # Inference corrects whole-frame predictions by input_width / reference_width, and by
        # the image's focal over the training camera's (msdepth.inference.camera).
        focal, focal_source = canonical_focal(self.train_set, config.model)
        self.config = config.replace(
            "model",
            reference_width=self.train_set.image_size[0],
            train_focal=focal,
            train_focal_source=focal_source,
        )
        self.depth_factors = focal_factors(self.train_set, focal)
        self.run_dir = run
        self.data = data
        self.dist = dist
        self.device = dist.device
        self.keeper = CheckpointKeeper(run, self.config.train.keep_last)
        self.observer = Observer(
            run, dist.is_main, progress, self.config.train.tensorboard, start=False
        )
        # "auto" is bf16 where the hardware computes it natively (msdepth.speed)
        self.precision = resolve_precision(self.config.train.precision, self.device)
        self.autocast = torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        )
        tune_device(self.device, self.config.train.deterministic)

    # ---- the run ---------------------------------------------------------------------------
    def run(
        self, stages: tuple[Stage, ...], init: str | Path | None, resume: bool | str | Path
    ) -> TrainResult:
        resume_from = self._resume_target(resume) if resume else None
        if resume_from is None:
            for stage in stages:
                existing = list_checkpoints(self.run_dir, stage)
                if existing and resume:  # weights without a state file: a killed checkpoint
                    for path in existing:
                        path.unlink()
                        path.with_suffix(".json").unlink(missing_ok=True)
                elif existing:
                    raise CheckpointError(
                        f"{self.run_dir} already has {stage} checkpoints; pass --resume to "
                        "continue that run, or choose a new --out folder"
                    )
            if init is not None and "fine" in stages:
                self._check_coarse_source(resolve_checkpoint(init))
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.run_dir / "config.toml.tmp"
            tmp.write_text(self.config.to_toml(), encoding="utf-8")
            tmp.replace(self.run_dir / "config.toml")
        self.dist.barrier()
        self.observer.open()
        # what the model learned from, for model cards (msdepth app)
        meta = self.train_set.meta
        self.observer.log(
            {
                "kind": "data",
                "data": str(self.data),
                "source": meta.get("source", {}),
                "train_images": meta["splits"].get("train", {}).get("count"),
            }
        )
        result = TrainResult(self.run_dir, self.config, None, device=str(self.device))
        deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            if self.config.train.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            with (
                reusing_freed_memory(self.config.train.reuse_memory),
                flushing_denormals(self.config.train.flush_denormal),
            ):
                self._run_stages(stages, init, resume_from, result)
            model_path = self.run_dir / "model.safetensors"
            result.model_path = model_path if model_path.is_file() else None
        finally:
            torch.use_deterministic_algorithms(deterministic)
            self.observer.close()
        return result

    def _run_stages(
        self,
        stages: tuple[Stage, ...],
        init: str | Path | None,
        resume_from: tuple[str, Path] | None,
        result: TrainResult,
    ) -> None:
        """Each stage in order; stages finished before a resume point are skipped."""
        for stage in stages:
            checkpoint = None
            if resume_from is not None:
                if STAGES.index(resume_from[0]) > STAGES.index(stage):
                    result.stages[stage] = StageResult(stage, 0, 0, None, None, skipped=True)
                    continue  # a later stage has begun: this one is done
                if resume_from[0] == stage:
                    checkpoint = resume_from[1]
            result.stages[stage] = self.run_stage(stage, checkpoint, init)

    def _resume_target(self, resume: bool | str | Path) -> tuple[str, Path] | None:
        """(stage, checkpoint) to continue from: the given one, or the newest resumable; None
        when the run was stopped before its first complete checkpoint (it starts over)."""
        check_resume_compatible(resume_config(self.run_dir), self.config, self.run_dir)
        if resume is not True:
            path = resolve_checkpoint(resume)  # type: ignore[arg-type]
            return read_info(path).stage, path
        for stage in reversed(STAGES):
            found = resumable_checkpoints(self.run_dir, stage)
            if found:
                return stage, found[-1]
        # Killed before the first checkpoint, or between its weights and its state file: the
        # folder holds this run's config.toml and nothing to continue from, so start over.
        return None

    # ---- one stage: the loop ---------------------------------------------------------------
    def run_stage(
        self, stage: Stage, resume_from: Path | None, init: str | Path | None
    ) -> StageResult:
        """Train one stage from its start, or from ``resume_from``, to its last step."""
        state = None
        if resume_from is not None:
            state = load_train_state(state_path(resume_from))
            self._check_state(state, stage, resume_from)
            if state.finished and not self._extends(stage, state):
                return self._finished_result(stage, resume_from, state)
        s = self._start_stage(stage, state, resume_from, init)
        cfg = self.config.train
        budget = TimeBudget(cfg.max_minutes)
        stopped_by_budget = False
        try:
            if stage == "fine" and s.step == 0 and self.val_set is not None:
                # Step 0 is exactly the coarse prediction (the identity start): the reference
                # that the kept fine result may not fall below.
                with s.meter.paused():
                    start = self._validate(s)
                s.min_delta1 = start.get("delta1", 0.0)
                s.reference = s.last_per_image
            while s.step < s.total:
                batch, pred = self._train_step(s)
                s.step += 1
                self.observer.step()
                # Periodic work; each reads values back from the device only at its interval.
                before_end = s.step < s.total
                if s.step % cfg.log_every == 0:
                    self._log(s)
                if s.step % cfg.panel_every == 0 and self.dist.is_main:
                    panel = depth_panel(batch.image, batch.depth, batch.mask, pred.float().exp())
                    self.observer.panel(stage, s.step, panel)
                if self._validation_due(s) and before_end:
                    with s.meter.paused():
                        self._validate(s)
                if s.step % cfg.checkpoint_every == 0 and before_end:
                    with s.meter.paused():
                        self._log(s)
                        s.last_good = self._checkpoint(s, {}, finished=False)
                if budget.limited and self._budget_spent(budget, s.step):
                    stopped_by_budget = before_end
                    break
            images_per_second = s.meter.overall()  # before the final validation and checkpoint
            self._log(s)
            final_metrics = self._validate(s)
            checkpoint = self._checkpoint(s, final_metrics, finished=True)
            if self.dist.is_main:
                self._save_result(s, final_metrics)
                if stopped_by_budget:
                    self.observer.message(
                        f"{stage}: time budget spent after {s.step} of {s.total} steps"
                    )
            self.dist.barrier()
        finally:
            s.batches = iter(())  # stops the loader's workers, also on errors
            self.observer.end_stage()
        best = self.keeper.best_path(stage)
        return StageResult(
            stage,
            s.step,
            s.total,
            checkpoint,
            best if best.is_file() else None,
            final_metrics,
            s.best_metrics,
            s.history,
            images_per_second,
            stopped_by_budget,
            kept_step=s.best_step if stage == "fine" and best.is_file() else s.step,
            validations=s.validations,
        )

    def _extends(self, stage: Stage, state: TrainState) -> bool:
        """Whether a finished stage is to continue: its step count was raised on resume.

        Exact (equal to a run of the new length) when no rate so far depended on the step
        count: under the constant schedule, or while every step done was in the warm-up.
        """
        total = (
            self.config.train.coarse_steps if stage == "coarse" else self.config.train.fine_steps
        )
        trained_toward = state.total_steps or state.step
        if total <= trained_toward:
            return False
        schedule = self.config.optim.schedule
        if schedule != "constant" and state.step > self.config.optim.warmup_steps:
            raise ConfigError(
                f"{self.run_dir}: the {stage} stage finished {trained_toward} steps under "
                f"optim.schedule = {schedule!r}, whose rates depend on the step count, so it "
                f"cannot be extended to {total} and equal a {total}-step run; train into a new "
                "--out folder (or use optim.schedule = 'constant')"
            )
        self.observer.message(f"{stage}: extending from {state.step} to {total} steps")
        return True

    def _validation_due(self, s: _Stage) -> bool:
        """Every ``val_every`` steps; in the fine stage also at 1/8, 1/4 and 1/2 of it, where
        a refinement that starts by damaging the coarse map would show first."""
        every = self.config.train.val_every
        if s.step % every == 0:
            return True
        return s.name == "fine" and s.step in {every // 8, every // 4, every // 2} - {0}

    def _save_result(self, s: _Stage, final_metrics: dict[str, float]) -> None:
        """``RUN/model.safetensors``: after the coarse stage its last state (what the fine stage
        starts from); after the fine stage its best validated state, step 0 (= the coarse
        prediction) included, so the refinement never hands on something worse than where it
        began. Rank 0 only; the stage's model is not used afterwards."""
        step, metrics = s.step, final_metrics
        best = self.keeper.best_path(s.name)
        if s.name == "fine" and best.is_file() and s.best_step != s.step:
            weights, info = load_weights(best)
            s.model.load_state_dict(weights)
            step, metrics = info.step, info.metrics
            self.observer.message(
                f"{s.name}: keeping step {step} (best validation abs_rel "
                f"{metrics.get('abs_rel', float('nan')):.4f}) over the last step {s.step}"
            )
        save_model(self.run_dir / "model.safetensors", s.model, self.config, s.name, step, metrics)

    def _train_step(self, s: _Stage) -> tuple[Batch, torch.Tensor]:
        """One SGD step on the next batch; returns the batch and the prediction (log depth)."""
        cfg = self.config
        batch = next(s.batches)
        image = batch.image.to(self.device, non_blocking=True)
        if cfg.train.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        depth = batch.depth.to(self.device, non_blocking=True)
        mask = batch.mask.to(self.device, non_blocking=True)
        target, mask = log_depth_targets(depth, mask, cfg.train.mask_min_max)
        set_learning_rates(s.optimizer, lr_factor(s.step, s.total, cfg.optim) * s.batch_lr)
        with torch.autograd.set_detect_anomaly(cfg.train.detect_anomaly):
            try:
                with self.autocast:
                    pred = s.net(image)
                loss = scale_invariant_loss(pred.float(), target, mask, cfg.train.loss_lambda)
                loss.backward()
            except RuntimeError as exc:
                if not cfg.train.detect_anomaly or "nan" not in str(exc).lower():
                    raise
                op = re.search(r"Function '(\w+)'", str(exc))
                what = f"the gradient of {op.group(1) if op else 'an operation'}"
                report = LossReport(s.step + 1, math.nan, 0, s.step + 1, math.nan)
                self._diverged(s.name, report, s.last_good, what)
        if cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(s.trainable, cfg.optim.grad_clip, foreach=True)
        s.optimizer.step()
        s.optimizer.zero_grad(set_to_none=True)
        s.losses.add(s.step + 1, loss)
        s.meter.add_step()
        return batch, pred.detach()

    # ---- one stage: setting up -------------------------------------------------------------
    def _start_stage(
        self,
        stage: Stage,
        state: TrainState | None,
        resume_from: Path | None,
        init: str | Path | None,
    ) -> _Stage:
        """Model, optimiser, data stream and RNG, fresh or exactly as ``state`` left them."""
        cfg, dist = self.config, self.dist
        total = cfg.train.coarse_steps if stage == "coarse" else cfg.train.fine_steps
        seed = stage_seed(cfg, stage)
        model = build_model(cfg, stage)
        if resume_from is not None:
            model.load_state_dict(load_weights(resume_from)[0])
        elif stage == "fine":
            source = self._load_coarse(model, init)
            self.observer.log({"kind": "init", "stage": stage, "coarse": str(source)})
        model.to(self.device)
        if cfg.train.channels_last:
            model.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(model, cfg.optim, stage, fused=cfg.train.fused_sgd)
        if state is not None:
            optimizer.load_state_dict(state.optimizer)
        net: torch.nn.Module = (
            torch.compile(model, mode=cfg.train.compile_mode) if cfg.train.compile else model
        )
        if dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # Frozen layers have requires_grad False, so DDP syncs only what the stage trains;
            # the buffers (input mean/std) are constants and need no sync each step.
            net = DistributedDataParallel(net, device_ids=ids, **_NO_BUFFER_SYNC)
        net.train()
        step = state.step if state else 0
        loader = make_training_stream(
            cfg.train.loader,
            self.train_set,
            cfg.train.batch_size,
            cfg.augment,
            model.geometry.input_hw,
            model.output_hw,
            device=self.device,
            seed=seed,
            start_step=step,
            num_steps=max(total - step, 0),
            workers=resolve_workers(cfg.train.workers, self.device),
            rank=dist.rank,
            world_size=dist.world_size,
            channels_last=cfg.train.channels_last,
            depth_factors=self.depth_factors,
        )
        batches = iter(loader)  # draws from the global RNG: before restoring it below
        if state is not None:
            torch.set_rng_state(state.rng_cpu[dist.rank])
            if state.rng_cuda and self.device.type == "cuda":
                torch.cuda.set_rng_state(state.rng_cuda[dist.rank])
        else:
            torch.manual_seed(seed * 1000 + 1 + dist.rank)  # dropout differs between ranks
        self.observer.start_stage(stage, step, total)
        best_file = self.keeper.best_path(stage)
        best_step, best_metrics = None, {}
        if state is not None and best_file.is_file():
            info = read_info(best_file)
            best_step, best_metrics = info.step, info.metrics
        return _Stage(
            name=stage,
            total=total,
            model=model,
            net=net,
            optimizer=optimizer,
            trainable=[p for group in optimizer.param_groups for p in group["params"]],
            batches=batches,
            step=step,
            losses=LossWatch(dist),
            meter=Throughput(cfg.train.batch_size * dist.world_size),
            best=state.best_abs_rel if state else float("inf"),
            history=list(state.loss_history) if state else [],
            last_good=resume_from,
            best_metrics=best_metrics,
            best_step=best_step,
            min_delta1=state.min_delta1 if state else 0.0,
            reference=state.reference if state else None,
            batch_lr=batch_lr_factor(cfg.optim, cfg.train.batch_size * dist.world_size),
        )

    def _load_coarse(self, model: MultiScaleDepth, init: str | Path | None) -> Path:
        """Copy a trained coarse network into ``model`` (the fine stage's starting point)."""
        if init is not None:
            path = resolve_checkpoint(init)
        else:
            found = list_checkpoints(self.run_dir, "coarse")
            model_file = self.run_dir / "model.safetensors"
            if found:
                path = found[-1]
            elif model_file.is_file() and read_info(model_file).stage == "coarse":
                path = model_file
            else:
                raise CheckpointError(
                    f"the fine stage needs a trained coarse network and {self.run_dir} has none; "
                    "pass --init CKPT (a coarse checkpoint or run folder) or train --stage coarse first"
                )
        weights = self._check_coarse_source(path)
        prefix = "coarse."
        model.coarse.load_state_dict(
            {k.removeprefix(prefix): v for k, v in weights.items() if k.startswith(prefix)}
        )
        return path

    def _check_coarse_source(self, path: Path) -> dict[str, torch.Tensor]:
        """The weights of a coarse network of this run's geometry, intact (else an error
        before anything is written)."""
        info = read_info(path)
        mine, theirs = self.config.model, info.config.model
        if (theirs.input_width, theirs.input_height) != (mine.input_width, mine.input_height):
            raise CheckpointError(
                f"{path} was trained at input {theirs.input_width}x{theirs.input_height}, this run "
                f"uses {mine.input_width}x{mine.input_height}; set model.input_width/height to match"
            )
        return load_weights(path)[0]

    def _check_state(self, state: TrainState, stage: str, path: Path) -> None:
        if state.stage != stage:
            raise CheckpointError(f"{path} is a {state.stage} checkpoint, not {stage}")
        if state.world_size != self.dist.world_size:
            raise CheckpointError(
                f"{path} was written by {state.world_size} process(es) and this run has "
                f"{self.dist.world_size}; resume with the same torchrun --nproc_per_node"
            )

    def _finished_result(self, stage: str, checkpoint: Path, state: TrainState) -> StageResult:
        """A stage that already ended in this run folder (resume skips it); its last weights
        are still checked against their digest (a damaged run is refused, not trusted)."""
        load_weights(checkpoint)
        best = self.keeper.best_path(stage)
        best_info = read_info(best) if best.is_file() else None
        cfg = self.config.train
        return StageResult(
            stage,
            state.step,
            cfg.coarse_steps if stage == "coarse" else cfg.fine_steps,
            checkpoint,
            best if best_info else None,
            read_info(checkpoint).metrics,
            best_info.metrics if best_info else {},
            state.loss_history,
            skipped=True,
            kept_step=best_info.step if stage == "fine" and best_info else state.step,
        )

    # ---- one stage: periodic work ----------------------------------------------------------
    def _log(self, s: _Stage) -> None:
        """Read the pending losses back (one device sync); stop on NaN/inf; log them."""
        report = s.losses.read()
        if report is None:
            return
        if report.bad_step is not None:
            self._diverged(s.name, report, s.last_good)
        s.history.append((report.last_step, report.mean))
        lrs = {g["name"]: g["lr"] for g in s.optimizer.param_groups}
        self.observer.train_scalars(s.name, report.last_step, report.mean, lrs, s.meter.rate())

    def _validate(self, s: _Stage) -> dict[str, float]:
        """Validation on rank 0 (others wait); saves ``<stage>-best`` when abs_rel improves
        without delta1 falling below the stage's floor, and (fine stage) when the state is
        `clearly_better` than step 0 on the same validation images."""
        metrics: dict[str, float] = {}
        if self.dist.is_main and self.val_set is not None:
            with torch.random.fork_rng(devices=[]):  # never perturbs the training RNG
                result = validate(s.model, self.val_set, self.config, self.device, self.autocast)
            metrics = result.metrics
            s.validations.append((s.step, metrics))
            self.observer.val_scalars(s.name, s.step, metrics)
            panel = depth_panel(result.image, result.depth, result.mask, result.pred)
            self.observer.panel(f"{s.name}-val", s.step, panel)
            s.last_per_image = result.per_image
            better = (
                metrics["abs_rel"] < s.best
                and metrics["delta1"] >= s.min_delta1
                and (s.reference is None or clearly_better(result.per_image, s.reference))
            )
            if better:  # rank 0 alone tracks and saves the best
                s.best, s.best_metrics, s.best_step = metrics["abs_rel"], metrics, s.step
                best = self.keeper.best_path(s.name)
                save_model(best, s.model, self.config, s.name, s.step, metrics)
        self.dist.barrier()
        return metrics

    def _checkpoint(self, s: _Stage, metrics: dict[str, float], finished: bool) -> Path:
        """Write weights + train state (rank 0), keep the last K; every rank takes part."""
        path = self.keeper.step_path(s.name, s.step)
        with torch.no_grad():
            finite = bool(torch.stack([p.isfinite().all() for p in s.trainable]).all())
        if not finite:  # e.g. an infinite gradient under a finite loss
            report = LossReport(s.step, math.nan, 0, s.step, math.nan)
            self._diverged(s.name, report, s.last_good, "weights")
        rng_cpu = self.dist.gather_cpu(torch.get_rng_state())
        rng_cuda = (
            self.dist.gather_cpu(torch.cuda.get_rng_state()) if self.device.type == "cuda" else []
        )
        if self.dist.is_main:
            if s.history:
                metrics = {**metrics, "train_loss": s.history[-1][1]}
            save_model(path, s.model, self.config, s.name, s.step, metrics)
            state = TrainState(
                s.name,
                s.step,
                s.optimizer.state_dict(),
                rng_cpu,
                rng_cuda,
                s.best,
                s.history,
                finished,
                total_steps=s.total,
                min_delta1=s.min_delta1,
                reference=s.reference,
            )
            save_train_state(state_path(path), state)
            self.keeper.prune(s.name)
            self.observer.log(
                {"kind": "checkpoint", "stage": s.name, "step": s.step, "path": str(path)}
            )
        self.dist.barrier()
        return path

    def _budget_spent(self, budget: TimeBudget, step: int) -> bool:
        """Every step alone; under DDP at log intervals, where all ranks agree to stop."""
        if not self.dist.enabled:
            return budget.expired()
        if step % self.config.train.log_every:
            return False
        return self.dist.any(budget.expired())

    def _diverged(
        self, stage: str, report: LossReport, last_good: Path | None, what: str = "loss"
    ) -> NoReturn:
        self.observer.log(
            {"kind": "diverged", "stage": stage, "step": report.bad_step, "what": what}
        )
        kept = f"last good checkpoint {last_good}" if last_good else "no checkpoint written yet"
        raise TrainingDivergedError(
            f"{what} became {report.bad_value} at {stage} step {report.bad_step}; stopped ({kept}). "
            "Likely causes: learning rate too high (try --lr-scale 0.2) or bad data "
            "(check the dataset's depth values)"
        )


@dataclass
class _Stage:
    """A stage in progress: its network, optimiser, data stream and where it stands."""

    name: Stage
    total: int
    model: MultiScaleDepth  # the plain module: checkpoints and validation use it
    net: torch.nn.Module  # what trains: the model, compiled and/or wrapped in DDP
    optimizer: torch.optim.Optimizer
    trainable: list[torch.Tensor]
    batches: Iterator[Batch]
    step: int  # steps completed
    losses: LossWatch
    meter: Throughput
    best: float  # lowest validation abs_rel so far
    history: list[tuple[int, float]]
    last_good: Path | None  # newest checkpoint written (or resumed from)
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_step: int | None = None
    min_delta1: float = 0.0  # "best" may not have a lower validation delta1 (fine: step 0's)
    # and must be `clearly_better` than these per-image validation metrics (fine: step 0's)
    reference: dict[str, list[float]] | None = None
    last_per_image: dict[str, list[float]] | None = None  # of the latest validation (rank 0)
    validations: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    batch_lr: float = 1.0  # learning-rate factor of the batch-size rule (batch_scaling)

"""`msdepth quickstart`: the whole walk on built-in synthetic rooms within a time budget.

Synthesise a dataset, train the coarse network then the fine one (the paper's two stages) with
the ``quick`` preset, evaluate both on the held-out split beside a constant-depth baseline,
optionally evaluate on real NYU-style pairs (zero-shot sim-to-real), write prediction panels,
and finish with a report (``report.md`` and ``report.json`` in the output folder).

The budget adapts to the machine (a 2-core CPU without bf16 trains ~15x slower than one with
AMX): each stage first runs a few warm-up steps, which measure its images per second; the rest
of the budget is then split into step counts (`plan_steps`) and the stage is extended to them
(`train(..., resume=True)`, exact because the warm-up does not depend on the step count). On
slow machines validation and evaluation use fewer images, so that both stages get useful steps
and the whole run ends within its budget.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.config import Config
from msdepth.errors import ConfigError, DataError
from msdepth.presets import QUICK_CURVE, preset_config

SIZE = (320, 240)  # the paper's half-resolution NYU frame
PROBE_STEPS = 12  # warm-up steps that measure a stage's speed (inside the preset's warm-up)
FINE_SHARE = 0.05  # of the training images, for the fine stage (docs/training.md)
FINE_SPEEDUP = 1.2  # fine images/s over coarse, until measured (6.6 vs 9.0 GFLOP per image)
EVAL_SHARE = 0.08  # of the budget at most, for the final evaluation, panels and report
EVAL_FIXED_S = 8.0  # loading two models, the panels, the constant baseline
VAL_SHARE = 0.05  # of the training time at most, for validation during training
COARSE_VAL_IMAGES = 32  # coarse validation only watches; it selects nothing
VAL_INTERVALS = {"coarse": 3, "fine": 4}  # validations per stage (fine: also step 0, 1/8 .. 1/2)
VALIDATIONS = {"coarse": 4, "fine": 8}  # all of them, with the probe's and the last
FORWARD_PER_TRAIN_STEP = 3.0  # an inference image costs ~1/3 of a training image (FLOPs)


@dataclass
class QuickstartSettings:
    """What `msdepth quickstart` does; the defaults fit 10 minutes on any 2-core CPU."""

    out: Path
    minutes: float = 10.0
    train_images: int = 4000  # unique rooms beat repeats: docs/training.md, "Training rooms"
    val_images: int = 100
    test_images: int = 200
    seed: int = 0
    real: Path | None = None
    overrides: list[str] = field(default_factory=list)
    progress: bool = True
    device: str = "auto"


@dataclass
class QuickstartReport:
    out: Path
    data: Path
    run: Path
    rows: dict[str, dict[str, float]]  # label -> metrics (held-out synthetic split)
    real_rows: dict[str, dict[str, float]]
    panels: list[Path]
    timings: dict[str, float]
    stages: dict[str, dict[str, Any]]
    plan: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""  # first line of the report: does the model beat the constant baseline?

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "out": str(self.out),
            "data": str(self.data),
            "run": str(self.run),
            "synthetic_test": self.rows,
            "real_zero_shot": self.real_rows,
            "panels": [str(p) for p in self.panels],
            "timings_s": self.timings,
            "stages": self.stages,
            "plan": self.plan,
        }


def demo_config(overrides: list[str]) -> Config:
    """The ``quick`` preset with the demo's run mechanics (``--set`` overrides any of it).

    Checkpoints only at the end of each stage and only the last one kept (a coarse checkpoint
    with its AdamW state is ~850 MB); validation intervals and sizes are set by the plan.
    """
    base = preset_config("quick").with_overrides(
        {
            "train.keep_last": 1,
            "train.checkpoint_every": 1_000_000,
            "train.panel_every": 100,
            "train.log_every": 10,
        },
        source="quickstart defaults",
    )
    return base.with_overrides(overrides, source="--set") if overrides else base


def plan_steps(seconds: float, images_per_second: float, batch_size: int) -> int:
    """Steps of ``batch_size`` that ``seconds`` of training hold at the measured speed."""
    return max(0, math.floor(seconds * images_per_second / batch_size))


def stage_limit(planned_s: float, overhead_s: float, room_s: float) -> float:
    """Wall-clock seconds a stage may run: its plan with 10% slack for a speed that drifts
    below the probe's, but never more than ``room_s``, the time left once what must follow
    it (the next stage's start, the final evaluation) is set aside; at least 3 s."""
    return max(3.0, min(planned_s * 1.1 + overhead_s + 5.0, room_s))


def validation_images(train_seconds: float, images_per_second: float, count: int, n: int) -> int:
    """Images per validation so that ``n`` validations cost at most `VAL_SHARE` of training
    (inference at ~`FORWARD_PER_TRAIN_STEP` x the training speed), at least 16."""
    forward = images_per_second * FORWARD_PER_TRAIN_STEP
    return int(min(count, max(16, VAL_SHARE * train_seconds * forward / max(n, 1))))


def images_to_beat_constant() -> int | None:
    """Training images after which the ``quick`` learning curve beat a constant depth on every
    metric (`msdepth.presets.QUICK_CURVE`, measured); None when it never did."""
    for images, point in sorted(QUICK_CURVE.items()):
        if point["beats_constant"]:
            return images
    return None


def _constant_metrics(samples: Any, value: float, settings: Any) -> dict[str, float]:
    """Metrics of predicting one depth everywhere (the training set's median), same protocol."""
    from msdepth.metrics import MetricAccumulator, crop_mask

    acc = MetricAccumulator(settings.min_depth, settings.max_depth, settings.median_scaling)
    for s in samples:
        acc.update(np.full_like(s.depth, value), s.depth, crop_mask(settings.crop, s.depth.shape))
    return acc.compute()


def _train_median_depth(data: Path, limit: int = 200) -> float:
    from msdepth.data import open_dataset

    ds = open_dataset(data, "train")
    step = max(1, len(ds) // limit)
    values = [ds[i].depth[ds[i].mask] for i in range(0, len(ds), step)]
    return float(np.median(np.concatenate(values)))


def _panels(model: Any, data: Path, out: Path, count: int = 4) -> list[Path]:
    """RGB | ground truth | prediction for a few held-out images, one colour scale per row."""
    from msdepth.data import open_dataset
    from msdepth.visualize import colorize_depth, make_panel, save_png

    ds = open_dataset(data, "test")
    paths = []
    for i in range(min(count, len(ds))):
        s = ds[i]
        pred = model.predict(s.rgb)
        lo, hi = np.percentile(s.depth[s.mask], [2, 98]) if s.mask.any() else (None, None)
        panel = make_panel(
            [s.rgb, colorize_depth(s.depth, s.mask, lo, hi), colorize_depth(pred, None, lo, hi)]
        )
        paths.append(save_png(out / f"{ds.names[i]}.panel.png", panel))
    return paths


def beats(model: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """The metrics on which ``model`` is not better than ``baseline`` (empty: better on all)."""
    from msdepth.metrics import HIGHER_IS_BETTER

    worse = []
    for name, higher in HIGHER_IS_BETTER.items():
        if name in model and name in baseline:
            better = model[name] > baseline[name] if higher else model[name] < baseline[name]
            if not better:
                worse.append(name)
    return worse


class _Clock:
    """The run's budget: seconds since the start and seconds left."""

    def __init__(self, minutes: float):
        self.start = time.monotonic()
        self.budget = minutes * 60.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()


def run_quickstart(settings: QuickstartSettings) -> QuickstartReport:
    """Run the whole walk; returns what it measured (also written to report.json / .md)."""
    from msdepth.evaluation import EvalSettings, evaluate, open_samples
    from msdepth.inference import load
    from msdepth.synth import synthesize_dataset
    from msdepth.train import train

    if settings.minutes <= 0:
        raise ConfigError(f"--minutes must be positive, got {settings.minutes}")
    if settings.real is not None and not settings.real.exists():
        raise DataError(
            f"--real {settings.real} does not exist; pass a folder or CSV of RGB-D pairs"
        )
    config = demo_config(settings.overrides).replace("train", device=settings.device)
    if config.optim.schedule != "constant" and config.optim.warmup_steps < PROBE_STEPS:
        raise ConfigError(
            f"quickstart measures each stage's speed in its first {PROBE_STEPS} warm-up steps; "
            f"optim.warmup_steps = {config.optim.warmup_steps} is fewer (set it to "
            f"{PROBE_STEPS} or more, or optim.schedule = 'constant')"
        )
    clock = _Clock(settings.minutes)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    data, run = out / "data", out / "run"
    timings: dict[str, float] = {}

    t = time.monotonic()
    synthesize_dataset(
        data,
        settings.train_images,
        settings.test_images,
        settings.seed,
        SIZE,
        overwrite=True,
        progress=settings.progress,
        val=settings.val_images,
    )
    timings["synthesize"] = time.monotonic() - t
    if run.exists():
        import shutil

        shutil.rmtree(run)  # a fresh run each time, like the data

    batch = config.train.batch_size
    n_val = settings.val_images or settings.test_images
    n_real = 20 if settings.real is not None else 0
    plan: dict[str, Any] = {"budget_s": clock.budget}
    stages: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}
    val_images = {"coarse": min(n_val, COARSE_VAL_IMAGES)}  # fine: planned after coarse's probe
    eval_reserve = EVAL_SHARE * clock.budget

    def run_stage(stage: str, steps: int, val_every: int, minutes: float):
        cfg = config.replace(
            "train",
            **{f"{stage}_steps": steps},
            val_images=val_images[stage],
            val_every=max(1, val_every),
            max_minutes=max(minutes, 0.05),
        )
        folder = run / "checkpoints"
        resume = folder.is_dir() and any(p.name.startswith(f"{stage}-0") for p in folder.iterdir())
        return train(
            cfg, data, run, stages=(stage,), progress=settings.progress, resume=resume
        ).stages[stage]

    for stage in ("coarse", "fine"):
        t = time.monotonic()
        probe_steps = min(PROBE_STEPS, getattr(config.train, f"{stage}_steps"))
        probe = run_stage(stage, probe_steps, probe_steps, clock.left() / 60)
        rate = max(probe.images_per_second, 1e-3)
        overhead = max(0.0, time.monotonic() - t - probe_steps * batch / rate)
        if stage == "coarse":
            # inference costs ~1/3 of a training image: size the final evaluation to its share
            forward = rate * FORWARD_PER_TRAIN_STEP
            room = max(0.0, EVAL_SHARE * clock.budget - EVAL_FIXED_S) * forward
            n_test = int(min(settings.test_images, max(50, (room - 3 * n_real - 4) / 2)))
            eval_reserve = (2 * n_test + 3 * n_real + 4) / forward + EVAL_FIXED_S
            plan.update(test_images=n_test, eval_reserve_s=eval_reserve)
            fine_rate = rate * FINE_SPEEDUP  # estimated; the fine stage's probe measures it
            per_image = (1 - FINE_SHARE) / rate + FINE_SHARE / fine_rate
            train_s = clock.left() - eval_reserve - 2 * overhead  # the fine stage starts too
            room_s = train_s  # leaves the fine stage its start and probe, and the evaluation
            images = max(0.0, train_s / (1 + VAL_SHARE)) / per_image
            stage_s = images * (1 - FINE_SHARE) / rate
            fine_s = images * FINE_SHARE / fine_rate
            val_images["fine"] = validation_images(fine_s, fine_rate, n_val, VALIDATIONS["fine"])
        else:
            stage_s = max(0.0, clock.left() - eval_reserve - overhead) / (1 + VAL_SHARE)
            room_s = clock.left() - eval_reserve
        steps = min(
            probe_steps + plan_steps(stage_s, rate, batch), getattr(config.train, f"{stage}_steps")
        )
        val_every = max(1, steps // VAL_INTERVALS[stage])
        plan[stage] = {
            "probe_images_per_second": rate,
            "start_overhead_s": overhead,
            "planned_s": stage_s,
            "steps": steps,
            "val_images": val_images[stage],
            "val_every": val_every,
        }
        result = probe
        if steps > probe_steps:
            limit = stage_limit(stage_s, overhead, room_s) / 60
            result = run_stage(stage, steps, val_every, limit)
        results[stage] = result
        timings[f"train_{stage}"] = time.monotonic() - t
        stages[stage] = {
            "steps": result.steps,
            "images": result.steps * batch,
            "images_per_second": result.images_per_second or rate,
            "final_loss": result.loss_history[-1][1] if result.loss_history else None,
            "kept_step": result.kept_step,
            "checkpoint": str(result.result),
            "stopped_by_budget": result.stopped_by_budget,
        }

    t = time.monotonic()
    n_test = plan["test_images"]
    eval_settings = EvalSettings(crop="none", min_depth=1e-3, max_depth=10.0)

    def test_samples():
        return itertools.islice(open_samples(data, "test"), n_test)

    rows: dict[str, dict[str, float]] = {}
    for label, stage in (("coarse", "coarse"), ("coarse + fine", "fine")):
        predictor = load(results[stage].result, device=settings.device)
        rows[label] = evaluate(predictor, test_samples(), eval_settings).metrics
    median = _train_median_depth(data)
    constant_label = f"constant {median:.2f} m (train median)"
    rows[constant_label] = _constant_metrics(test_samples(), median, eval_settings)
    model = load(results["fine"].result, device=settings.device)
    panels = _panels(model, data, out / "predictions")
    real_rows: dict[str, dict[str, float]] = {}
    if settings.real is not None:
        samples = open_samples(settings.real)
        for label, median_scaling in (("zero-shot", False), ("zero-shot, median-scaled", True)):
            s = EvalSettings(crop="eigen", median_scaling=median_scaling)
            real_rows[label] = evaluate(model, samples, s).metrics
        real_rows[f"constant {median:.2f} m"] = _constant_metrics(
            samples, median, EvalSettings(crop="eigen")
        )
    timings["evaluate"] = time.monotonic() - t
    timings["total"] = clock.elapsed()

    worse = beats(rows["coarse + fine"], rows[constant_label])
    verdict = _verdict(worse, stages, batch, clock.budget)
    report = QuickstartReport(
        out, data, run, rows, real_rows, panels, timings, stages, plan, verdict
    )
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    (out / "report.md").write_text(format_report(report), encoding="utf-8")
    return report


def _verdict(worse: list[str], stages: dict[str, dict[str, Any]], batch: int, budget: float) -> str:
    """The report's first line: whether the model beats the constant baseline everywhere, and
    if not, the measured speed and the minutes the learning curve says it would need."""
    images = sum(s["images"] for s in stages.values())
    rate = images / max(
        sum(s["images"] / max(s["images_per_second"], 1e-6) for s in stages.values()), 1e-6
    )
    if not worse:
        return (
            f"The model beats a constant depth on every metric ({images} training images "
            f"at {rate:.1f} images/s)."
        )
    needed = images_to_beat_constant()
    hint = (
        f"the learning curve of the quick recipe beat it after {needed} images: about "
        f"--minutes {math.ceil((needed / rate) / 60 / (1 - EVAL_SHARE) + 1)} on this machine"
        if needed
        else "train longer (--minutes)"
    )
    return (
        f"WARNING: the model does not beat a constant depth on {', '.join(worse)} yet: this "
        f"machine trained {images} images at {rate:.1f} images/s in {budget / 60:.0f} minutes; "
        + hint
        + "."
    )


def format_report(report: QuickstartReport) -> str:
    """The report as Markdown: verdict, metric tables, throughput, where everything went."""
    from msdepth.evaluation.table import format_table, paper_columns

    lines = (
        [report.verdict, "", "# msdepth quickstart report", ""]
        if report.verdict
        else [
            "# msdepth quickstart report",
            "",
        ]
    )
    n_test = report.plan.get("test_images")
    count = f"{n_test} images, " if n_test else ""
    lines += [f"## Held-out synthetic rooms ({count}whole frame, no crop, 1e-3..10 m)", "", "```"]
    lines.append(format_table({k: paper_columns(v) for k, v in report.rows.items()}))
    lines += ["```", ""]
    if report.real_rows:
        lines += ["## Real NYU-style pairs: zero-shot sim-to-real (Eigen crop)", "", "```"]
        lines.append(format_table({k: paper_columns(v) for k, v in report.real_rows.items()}))
        lines += [
            "```",
            "",
            "The model never saw a real image; these figures are honest, not tuned.",
            "",
        ]
    lines += ["## Training", ""]
    for stage, info in report.stages.items():
        kept = (
            f", kept step {info['kept_step']} (best validation)"
            if info.get("kept_step", info["steps"]) != info["steps"]
            else ""
        )
        lines.append(
            f"- {stage}: {info['steps']} steps ({info['images']} images) at "
            f"{info['images_per_second']:.1f} images/s, final loss {info['final_loss']}{kept}"
        )
    lines += ["", "## Files", ""]
    lines.append(f"- dataset: `{report.data}`")
    lines.append(f"- run (config, checkpoints, panels, log, TensorBoard): `{report.run}`")
    lines.append(f"- model: `{report.run / 'model.safetensors'}`")
    lines += [f"- prediction panel: `{p}`" for p in report.panels]
    t = report.timings
    lines += [
        "",
        f"Total time {t['total']:.0f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in t.items() if k != "total")
        + ")",
        "",
    ]
    return "\n".join(lines)

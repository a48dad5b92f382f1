"""`msdepth quickstart`: the whole walk on built-in synthetic rooms within a time budget.

Synthesise a dataset, train the coarse network then the fine one (the paper's two stages),
evaluate both on the held-out split beside a constant-depth baseline, optionally evaluate on
real NYU-style pairs (zero-shot sim-to-real), write prediction panels, and finish with a report
(``report.md`` and ``report.json`` in the output folder).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msdepth.config import Config
from msdepth.errors import ConfigError, DataError

SIZE = (320, 240)  # the paper's half-resolution NYU frame
EVAL_SHARE = 0.1  # of the budget kept for validation, evaluation, panels and the report


@dataclass
class QuickstartSettings:
    """What `msdepth quickstart` does; the defaults fit about 10 minutes on a 2-core CPU."""

    out: Path
    minutes: float = 10.0
    train_images: int = 2000
    test_images: int = 200
    seed: int = 0
    coarse_share: float = 0.8  # of the training time, the rest goes to the fine stage
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "data": str(self.data),
            "run": str(self.run),
            "synthetic_test": self.rows,
            "real_zero_shot": self.real_rows,
            "panels": [str(p) for p in self.panels],
            "timings_s": self.timings,
            "stages": self.stages,
        }


def demo_config(overrides: list[str]) -> Config:
    """The paper's config with the demo's few changes for a 10-minute budget.

    Batch 16: more, smaller steps. Coarse conv learning rate 0.03 instead of 0.001: the paper's
    rate was for conv layers taken from an ImageNet classifier; from random (He) init, 460 steps
    at 0.001 / 0.01 / 0.03 / 0.1 reach held-out d1 0.45 / 0.51 / 0.56 / 0.57 (docs/training.md).
    Fine rates at 0.3x the paper's: in these minutes the fine stage otherwise drifts from the
    coarse prediction it starts from. No scale augmentation: the paper's "scale s in [1, 1.5],
    depth divided by s" pays off once the network reads apparent object size, which minutes of
    CPU training do not reach (d1 0.33 with it, 0.40 without, after 2 minutes).
    ``--set`` restores any of these.
    """
    base = Config().with_overrides(
        {
            "train.batch_size": 16,
            "optim.coarse_conv_lr": 0.03,
            "optim.fine_lrs": (0.0003, 0.003, 0.0003),
            "augment.scale_max": 1.0,
            "train.keep_last": 1,
            "train.val_every": 200,
            "train.checkpoint_every": 200,
            "train.panel_every": 200,
            "train.log_every": 10,
        },
        source="quickstart defaults",
    )
    return base.with_overrides(overrides, source="--set") if overrides else base


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
    start = time.monotonic()
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
    )
    timings["synthesize"] = time.monotonic() - t

    train_s = settings.minutes * 60 * (1 - EVAL_SHARE) - (time.monotonic() - start)
    if train_s <= 0:
        raise ConfigError(
            f"--minutes {settings.minutes} is spent on synthesising the data; "
            "give more minutes or fewer --train-images"
        )
    stages: dict[str, dict[str, Any]] = {}
    checkpoints: dict[str, Path] = {}
    for stage, share in (("coarse", settings.coarse_share), ("fine", 1.0 - settings.coarse_share)):
        t = time.monotonic()
        result = train(
            config,
            data,
            run,
            stages=(stage,),
            progress=settings.progress,
            max_minutes=train_s * share / 60,
        )
        timings[f"train_{stage}"] = time.monotonic() - t
        r = result.stages[stage]
        checkpoints[stage] = r.checkpoint  # type: ignore[assignment]
        stages[stage] = {
            "steps": r.steps,
            "images_per_second": r.images_per_second,
            "final_loss": r.loss_history[-1][1] if r.loss_history else None,
            "checkpoint": str(r.checkpoint),
        }

    t = time.monotonic()
    eval_settings = EvalSettings(crop="none", min_depth=1e-3, max_depth=10.0)
    rows: dict[str, dict[str, float]] = {}
    for label, ckpt in (("coarse", checkpoints["coarse"]), ("coarse + fine", checkpoints["fine"])):
        predictor = load(ckpt, device=settings.device)
        rows[label] = evaluate(predictor, open_samples(data, "test"), eval_settings).metrics
    median = _train_median_depth(data)
    rows[f"constant {median:.2f} m (train median)"] = _constant_metrics(
        open_samples(data, "test"), median, eval_settings
    )
    model = load(checkpoints["fine"], device=settings.device)
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
    timings["total"] = time.monotonic() - start

    report = QuickstartReport(out, data, run, rows, real_rows, panels, timings, stages)
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    (out / "report.md").write_text(format_report(report), encoding="utf-8")
    return report


def format_report(report: QuickstartReport) -> str:
    """The report as Markdown: metric tables, throughput, and where everything was written."""
    from msdepth.evaluation.table import format_table, paper_columns

    lines = ["# msdepth quickstart report", ""]
    lines += ["## Held-out synthetic rooms (whole frame, no crop, 1e-3..10 m)", "", "```"]
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
        lines.append(
            f"- {stage}: {info['steps']} steps at {info['images_per_second']:.1f} images/s, "
            f"final loss {info['final_loss']}"
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

"""The paper's evaluation protocol applied to a predictor and a stream of RGB-D samples.

For each sample: predict the whole frame (`msdepth.inference.whole_frame`, the same method as
`msdepth predict`), upsampled to the ground truth's resolution; keep pixels inside the crop
(Eigen's for NYU) with ``min_depth < gt < max_depth``; clamp predictions to that range; score
with `msdepth.metrics`. Metrics are computed per image and averaged over images (the field's
convention); the pixel-pooled values are kept too.

On a sequence (the frames of one video, in order) the flicker of the predictions is measured
too (`msdepth.metrics.flicker`, inside the same crop and depth range), and ``stabilize`` runs
`msdepth.inference.stabilize.Stabilizer` over the frames first, as ``msdepth predict`` does
for videos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from msdepth.errors import DataError
from msdepth.inference.camera import CameraSpec
from msdepth.inference.predictor import DepthPredictor
from msdepth.metrics import CROPS, FlickerAccumulator, MetricAccumulator, crop_mask


class EvalSample(NamedTuple):
    """One test image: a name for reports, RGB uint8 (H, W, 3), depth float32 metres (H, W)."""

    name: str
    rgb: np.ndarray
    depth: np.ndarray
    path: Path | None = None  # the RGB file, when there is one (its EXIF may give the focal)


@dataclass(frozen=True)
class EvalSettings:
    """The protocol's choices (recorded in the JSON report)."""

    crop: str = "eigen"
    min_depth: float = 1e-3
    max_depth: float = 10.0
    median_scaling: bool = False
    flip_tta: bool = False
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise DataError(f"unknown crop {self.crop!r}; choose one of {', '.join(CROPS)}")
        if not 0 < self.min_depth < self.max_depth:
            raise DataError(
                f"need 0 < --min-depth < --max-depth, got {self.min_depth} and {self.max_depth}"
            )


@dataclass
class EvaluationResult:
    """Mean-over-images metrics, pooled metrics, one row per image, and what was done."""

    metrics: dict[str, float]
    pooled: dict[str, float]
    per_image: list[dict[str, Any]]
    settings: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # images without a valid pixel
    flicker: dict[str, Any] | None = None  # sequences: mean, frame pairs, pixels

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "flicker": self.flicker,
            "pooled_metrics": self.pooled,
            "count": len(self.per_image),
            "skipped": self.skipped,
            "settings": self.settings,
            "per_image": self.per_image,
        }


def evaluate(
    predictor: DepthPredictor,
    samples: Iterable[EvalSample],
    settings: EvalSettings | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    extra_settings: dict[str, Any] | None = None,
    camera: CameraSpec | None = None,
    sequence: bool = False,
    stabilize: bool = False,
) -> EvaluationResult:
    """Score ``predictor`` on ``samples`` with the paper's protocol (see the module docstring).

    ``progress`` wraps the sample iterable (e.g. ``tqdm``). ``camera``: the test images'
    focal or field of view (`msdepth.inference.camera`; default: EXIF of RGB files when
    usable, else the training camera). ``sequence``: the samples are the frames of one video
    in order; flicker is measured, and ``stabilize`` stabilises them first.
    """
    from msdepth.inference.stabilize import Stabilizer

    spec = camera or CameraSpec()
    settings = settings or EvalSettings()
    acc = MetricAccumulator(settings.min_depth, settings.max_depth, settings.median_scaling)
    flicker = FlickerAccumulator(settings.min_depth, settings.max_depth) if sequence else None
    per_image: list[dict[str, Any]] = []
    skipped: list[str] = []
    stream = predictor.infer_stream(
        progress(samples) if progress else samples,
        rgb_of=lambda s: s.rgb,
        size_of=lambda s: s.depth.shape,
        camera_of=lambda s, w, h: predictor.camera(s.path, w, h, spec, name=str(s.path or s.name)),
        flip_tta=settings.flip_tta,
        batch_size=settings.batch_size,
        log_filter=Stabilizer() if sequence and stabilize else None,
    )
    focal_sources: set[str] = set()
    for sample, prediction in stream:
        gt = np.asarray(sample.depth, dtype=np.float32)
        crop = crop_mask(settings.crop, gt.shape)
        metrics = acc.update(prediction.depth, gt, crop)
        if flicker is not None:
            flicker.update(prediction.depth, gt, crop)
        cam = prediction.camera
        focal_sources.add(cam.focal_source)
        if metrics is None:
            skipped.append(sample.name)
        else:
            per_image.append({"name": sample.name, **metrics, "focal_px": cam.intrinsics.fx,
                              "focal_source": cam.focal_source,
                              "depth_factor": cam.depth_factor})  # fmt: skip
    if not per_image:
        raise DataError(
            f"no image had a valid ground-truth pixel inside the {settings.crop!r} crop and "
            f"({settings.min_depth}, {settings.max_depth}) m; check --depth-format/--depth-scale "
            "and --max-depth"
        )
    report_settings = {
        **asdict(settings),
        "averaging": "per image, then mean over images",
        "method": "whole frame resized to the network input, log depth upsampled bilinearly "
        "to the ground truth's resolution, times f_input / f_train (the focal rule; "
        "input_width/reference_width for the training camera's field of view)",
        "scale_correction": predictor.scale_correction,
        "camera": {"focal": spec.focal, "fov": spec.fov},
        "focal_sources": sorted(focal_sources),
        "train_focal": predictor.config.model.train_focal,
        "train_focal_source": predictor.config.model.train_focal_source,
        "backend": predictor.backend.name,
        "model": str(predictor.source) if predictor.source else None,
        **(extra_settings or {}),
    }
    if sequence:
        report_settings["stabilize"] = stabilize
    flicker_report = None
    if flicker is not None:
        flicker_report = {
            "mean": flicker.compute(),
            "pairs": len(flicker.per_pair),
            "pixels": flicker.pixels,
            "definition": "mean |log pred(t) - log pred(t-1)| at pixels whose ground truth "
            f"changed by under {flicker.tolerance:.0%}, averaged over frame pairs",
        }
    return EvaluationResult(
        acc.compute(), acc.compute(pooled=True), per_image, report_settings, skipped, flicker_report
    )

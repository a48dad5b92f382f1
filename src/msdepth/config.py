"""One typed configuration holding the paper's defaults (Eigen et al. 2014, ../shared/docs/paper.md).

Every paper constant is written once here, with the section it comes from. A `Config` can be
overridden from a TOML file (`Config.from_toml`) and from dotted ``key=value`` pairs (the CLI),
and is saved next to every checkpoint (`Config.to_dict` / `Config.to_toml`) so a run can be
reproduced. Unknown keys and wrong types raise `ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from msdepth.errors import ConfigError

# ImageNet statistics: the paper initialises coarse conv1-5 from an ImageNet classifier, so its
# inputs are normalised the same way. Part of the model, so callers pass RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ModelConfig:
    """Network geometry (paper, "Coarse network" / "Fine network")."""

    input_width: int = 304  # NYU: 640x480 halved to 320x240, cropped to 304x228
    input_height: int = 228
    dropout: float = 0.5  # after coarse6 only, the model's single dropout
    rgb_mean: tuple[float, float, float] = IMAGENET_MEAN
    rgb_std: tuple[float, float, float] = IMAGENET_STD
    # Width of the full frame that the input is a crop of at augmentation scale 1 (prepared
    # datasets store 320x240, the paper's half resolution). A whole frame resized to the input
    # looks input_width / reference_width times smaller than in training, so predictions on
    # whole frames are multiplied by that ratio (the augmentation's "depth divided by s").
    reference_width: int = 320
    # The training camera (docs/inference.md, "Camera and focal length"): horizontal focal
    # length in pixels of the training frames (reference_width wide, so also of the network
    # input at augmentation scale 1). Training takes each sample's depth to this focal;
    # prediction multiplies by the image's focal at input width over it. Set by training from
    # the dataset's intrinsics; 0 = unknown (a dataset without intrinsics), and predictions
    # then keep input_width / reference_width whatever the camera.
    train_focal: float = 0.0
    train_focal_source: str = ""  # where train_focal came from, for outputs and reports
    # Initial bias of the two linear output layers: log of a typical indoor depth (~2.7 m).
    # Not in the paper; it only saves the first few hundred steps of learning the mean.
    init_log_depth: float = 1.0
    # How the layers start (msdepth.models.multiscale.he_init): "he" = He-normal ReLU layers,
    # near-zero output layers, and a fine network that starts as the identity on the coarse map;
    # "pytorch" = PyTorch's default init (msdepth before 2026-11-25), under which the coarse
    # network trained from scratch barely learns (docs/training.md).
    init: Literal["he", "pytorch"] = "he"
    # Not in the paper: "batch" puts a BatchNorm after each coarse conv layer (coarse1-5), which
    # lets the coarse network train from scratch faster; the fine network never has one (its
    # identity start needs the raw coarse map). "none" is the paper's network.
    norm: Literal["none", "batch"] = "none"


@dataclass
class AugmentConfig:
    """Training augmentation (paper, "Augmentation"); the same geometry for image and depth."""

    enabled: bool = True
    scale_min: float = 1.0  # image scaled by s, depth divided by s
    scale_max: float = 1.5  # KITTI: 1.2
    rotation_deg: float = 5.0  # +- degrees; KITTI: 0
    color_min: float = 0.8  # RGB multiplied by a global c in [0.8, 1.2]^3
    color_max: float = 1.2
    flip_prob: float = 0.5  # horizontal
    # Not the paper's (off here; presets may turn it on): photometric randomisation, so that
    # a network trained on rendered rooms cannot read depth from their tone. Per sample:
    # RGB ** g with log g uniform in +-log(gamma_max), then saturation and contrast (about the
    # image mean) scaled by a factor drawn from their ranges.
    gamma_max: float = 1.0
    saturation_min: float = 1.0
    saturation_max: float = 1.0
    contrast_min: float = 1.0
    contrast_max: float = 1.0


@dataclass
class OptimConfig:
    """SGD with per-layer learning rates (paper, "Training").

    ``optimizer = "adamw"`` (not the paper's) uses the same per-layer rates with AdamW; the
    ``quick`` preset (msdepth.presets) chose it for training from scratch in minutes.
    """

    optimizer: Literal["sgd", "adamw"] = "sgd"
    momentum: float = 0.9  # SGD
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW
    weight_decay: float = 0.0
    lr_scale: float = 1.0  # "global scale of all the rates was tuned to a factor of 5"
    coarse_conv_lr: float = 0.001  # coarse1-5
    coarse_fc_lr: float = 0.1  # coarse6-7
    fine_lrs: tuple[float, float, float] = (0.001, 0.01, 0.001)  # fine1, fine3, fine4
    schedule: Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = 0
    grad_clip: float = 0.0  # 0 disables
    # Learning rates for larger batches (msdepth.train.batch_scaling, docs/training.md): every
    # rate times (global batch / reference_batch) ("linear") or its square root ("sqrt").
    batch_lr_rule: Literal["none", "linear", "sqrt"] = "none"
    reference_batch: int = 32  # the paper's batch, at which the rates above hold


@dataclass
class TrainConfig:
    """The two-stage schedule and the run's mechanics."""

    batch_size: int = 32
    coarse_steps: int = 62_500  # 2M samples / 32
    fine_steps: int = 46_875  # 1.5M samples / 32
    loss_lambda: float = 0.5  # scale-invariant loss weight (paper, "Loss")
    mask_min_max: bool = False  # also mask per-image min/max depth, as the paper did for NYU
    seed: int = 0
    device: str = "auto"  # auto: CUDA where PyTorch sees it (the GPU of LOCAL_RANK), else CPU
    # Speed switches (msdepth.speed, BENCHMARKS.md); fp32, False, False, False, 0 is the plain path.
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 where native (AMX, GPUs)
    channels_last: bool = True  # NHWC, made by the loader's workers
    fused_sgd: bool = True  # one fused SGD kernel instead of multi-tensor foreach
    reuse_memory: bool = True  # glibc keeps freed memory: no page faults every step
    flush_denormal: bool = True  # subnormal floats become zero: AdamW's decayed state stays fast
    compile: bool = False  # torch.compile: slower than eager on our CPU (BENCHMARKS.md)
    # torch.compile's mode; "reduce-overhead" replays the step's kernels as CUDA graphs.
    compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = "default"
    # Where batches come from (msdepth.data.in_memory): "workers" = memory-mapped files augmented
    # on the CPU in `workers` processes; "memory" = the split held in memory (on the GPU when it
    # fits) and augmented on the training device; "auto" = memory on CUDA, workers on the CPU.
    loader: Literal["auto", "workers", "memory"] = "auto"
    workers: int = -1  # loader processes; -1: only on cores the compute threads leave idle
    log_every: int = 10
    panel_every: int = 500
    val_every: int = 1000
    val_images: int = 0  # validate on the first N images of the split (0 = all of them)
    checkpoint_every: int = 1000
    keep_last: int = 3
    deterministic: bool = False
    detect_anomaly: bool = False
    # Wall-clock budget per stage in minutes (0 = none): the stage stops cleanly at a step
    # boundary with a final checkpoint, as if its step count had been reached.
    max_minutes: float = 0.0
    tensorboard: bool = True  # write RUN/tensorboard/ when the tensorboard package is installed


@dataclass
class EvalConfig:
    """Evaluation protocol (paper, "Evaluation"; the field's later convention)."""

    min_depth: float = 1e-3
    max_depth: float = 10.0  # KITTI: 80
    crop: Literal["eigen", "garg", "eigen_kitti", "none"] = "eigen"


@dataclass
class Config:
    """Everything needed to reproduce a run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists), JSON and TOML friendly."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_toml(self) -> str:
        """TOML text that `from_toml` reads back to an equal config."""
        lines: list[str] = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        """Build from a nested dict; missing keys keep the paper's defaults."""
        return _merge(cls(), data, source)

    @staticmethod
    def read_toml_dict(path: str | Path) -> dict[str, Any]:
        """The raw tables of a TOML config file (one-line errors for missing or bad files)."""
        path = Path(path)
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        return cls.from_dict(cls.read_toml_dict(path), source=str(path))

    def with_overrides(self, pairs: dict[str, Any] | list[str], source: str = "override") -> Config:
        """Apply dotted overrides: ``{"train.batch_size": 8}`` or ``["train.batch_size=8"]``.

        String values are parsed as TOML values when they look like one (numbers, booleans,
        arrays), else taken as strings.
        """
        if isinstance(pairs, list):
            parsed: dict[str, Any] = {}
            for item in pairs:
                if "=" not in item:
                    raise ConfigError(f"override {item!r} must look like section.key=value")
                key, raw = item.split("=", 1)
                parsed[key.strip()] = _parse_scalar(raw.strip())
            pairs = parsed
        nested: dict[str, dict[str, Any]] = {}
        for dotted, value in pairs.items():
            if dotted.count(".") != 1:
                raise ConfigError(
                    f"override key {dotted!r} must be section.key, e.g. train.batch_size"
                )
            section, key = dotted.split(".")
            nested.setdefault(section, {})[key] = value
        return _merge(self, nested, source)

    def replace(self, section: str, **values: Any) -> Config:
        """A copy with some values of one section changed (validated)."""
        return _merge(self, {section: values}, "replace")


# ---- validation ----------------------------------------------------------------------------


def _merge(base: Config, data: dict[str, Any], source: str) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
    sections = {f.name: f for f in dataclasses.fields(base)}
    new_sections = {}
    for name, value in data.items():
        if name not in sections:
            raise ConfigError(
                f"{source}: unknown section [{name}]; known sections: {', '.join(sections)}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of key = value")
        current = getattr(base, name)
        hints = typing.get_type_hints(type(current))
        changes = {}
        for key, raw in value.items():
            if key not in hints:
                known = ", ".join(f.name for f in dataclasses.fields(current))
                raise ConfigError(f"{source}: unknown key {name}.{key}; known keys: {known}")
            changes[key] = _coerce(raw, hints[key], f"{name}.{key}", source)
        new_sections[name] = dataclasses.replace(current, **changes)
    merged = dataclasses.replace(base, **new_sections)
    _check_ranges(merged, source)
    return merged


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"{source}: {key} must be {expected}, got {value!r}")

    if hint is bool:
        if isinstance(value, bool):
            return value
        fail("true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        fail("an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        fail("a number")
    if hint is str:
        if isinstance(value, str):
            return value
        fail("a string")
    if origin is Literal:
        if value in args:
            return value
        fail("one of " + ", ".join(repr(a) for a in args))
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            fail(f"a list of {len(args)} values")
        return tuple(_coerce(v, a, key, source) for v, a in zip(value, args, strict=True))
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return _coerce(value, arg, key, source)
            except ConfigError:
                continue
        fail(str(hint))
    if hint is type(None):
        if value is None:
            return None
        fail("empty")
    raise ConfigError(f"{source}: {key} has an unsupported type {hint}")  # pragma: no cover


def _check_ranges(cfg: Config, source: str) -> None:
    checks = [
        (cfg.model.input_width >= 64, "model.input_width must be at least 64"),
        (cfg.model.input_height >= 64, "model.input_height must be at least 64"),
        (0.0 <= cfg.model.dropout < 1.0, "model.dropout must be in [0, 1)"),
        (
            cfg.model.train_focal >= 0 and math.isfinite(cfg.model.train_focal),
            "model.train_focal must be a focal length in pixels > 0 (or 0 = unknown)",
        ),
        (all(s > 0 for s in cfg.model.rgb_std), "model.rgb_std must be positive"),
        (
            1.0 <= cfg.augment.scale_min <= cfg.augment.scale_max,
            "augment needs 1 <= scale_min <= scale_max",
        ),
        (cfg.augment.rotation_deg >= 0, "augment.rotation_deg must be >= 0"),
        (
            0 < cfg.augment.color_min <= cfg.augment.color_max,
            "augment needs 0 < color_min <= color_max",
        ),
        (0.0 <= cfg.augment.flip_prob <= 1.0, "augment.flip_prob must be in [0, 1]"),
        (cfg.augment.gamma_max >= 1.0, "augment.gamma_max must be >= 1 (1 = off)"),
        (
            0 <= cfg.augment.saturation_min <= cfg.augment.saturation_max,
            "augment needs 0 <= saturation_min <= saturation_max",
        ),
        (
            0 < cfg.augment.contrast_min <= cfg.augment.contrast_max,
            "augment needs 0 < contrast_min <= contrast_max",
        ),
        (cfg.optim.lr_scale > 0, "optim.lr_scale must be positive"),
        (0.0 <= cfg.optim.momentum < 1.0, "optim.momentum must be in [0, 1)"),
        (all(0.0 <= b < 1.0 for b in cfg.optim.betas), "optim.betas must be in [0, 1)"),
        (cfg.optim.weight_decay >= 0, "optim.weight_decay must be >= 0"),
        (cfg.train.batch_size >= 1, "train.batch_size must be at least 1"),
        (cfg.train.coarse_steps >= 0 and cfg.train.fine_steps >= 0, "train steps must be >= 0"),
        (0.0 <= cfg.train.loss_lambda <= 1.0, "train.loss_lambda must be in [0, 1]"),
        (
            cfg.train.device in ("auto", "cpu", "cuda") or cfg.train.device.startswith("cuda:"),
            f"train.device must be auto, cpu, cuda or cuda:N, got {cfg.train.device!r}",
        ),
        (cfg.train.workers >= -1, "train.workers must be >= 0, or -1 (auto)"),
        (cfg.train.keep_last >= 1, "train.keep_last must be at least 1"),
        (cfg.train.val_images >= 0, "train.val_images must be >= 0 (0 = the whole split)"),
        (cfg.train.max_minutes >= 0, "train.max_minutes must be >= 0 (0 = no time budget)"),
        (cfg.optim.grad_clip >= 0, "optim.grad_clip must be >= 0 (0 disables)"),
        (cfg.optim.warmup_steps >= 0, "optim.warmup_steps must be >= 0"),
        (cfg.optim.reference_batch >= 1, "optim.reference_batch must be at least 1"),
        (
            min(cfg.train.log_every, cfg.train.panel_every, cfg.train.val_every) >= 1
            and cfg.train.checkpoint_every >= 1,
            "train.log_every, panel_every, val_every and checkpoint_every must be at least 1",
        ),
        (0 < cfg.eval.min_depth < cfg.eval.max_depth, "eval needs 0 < min_depth < max_depth"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def _parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if value is None:  # pragma: no cover - no optional fields today
        raise ConfigError("TOML cannot store an empty value")
    raise ConfigError(f"cannot write {value!r} to TOML")  # pragma: no cover

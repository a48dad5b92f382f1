"""Model checkpoints: weights in safetensors (no pickle), the config inside the file's header.

A checkpoint is one ``.safetensors`` file whose metadata holds the full `Config` (as JSON), the
stage and the step, so a single file is enough to rebuild and use the model; a ``.json`` file of
the same name beside it repeats that for people and adds metrics. A run folder holds::

    RUN/config.toml                       the resolved config of the run
    RUN/model.safetensors                 the model after the last finished stage
    RUN/checkpoints/<stage>-<step>.safetensors (+ .json, + .state.pt optimiser/RNG state)

Every command that takes a checkpoint accepts the file or the run folder (`resolve_checkpoint`).

Integrity: the header also holds ``weights_sha256``, a digest of every tensor's name, dtype,
shape and bytes; loading recomputes it, so flipped or overwritten weight bytes (which
safetensors itself does not notice) are refused. Files written before the digest existed load
without the check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from msdepth.config import Config
from msdepth.errors import CheckpointError, ConfigError
from msdepth.models import MultiScaleDepth

FORMAT_NAME = "msdepth-checkpoint"
FORMAT_VERSION = "1"
_STEP_RE = re.compile(r"^(coarse|fine)-(\d+)\.safetensors$")


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself."""

    path: Path
    config: Config
    stage: str
    step: int
    metrics: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str | None = None  # None in checkpoints older than the digest


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else b"")
    return h.hexdigest()


def save_model(
    path: str | Path,
    model: MultiScaleDepth,
    config: Config,
    stage: str,
    step: int,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write weights + metadata atomically (temporary file, then rename) and the JSON sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()
    }
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": config.to_json(),
        "stage": stage,
        "step": str(step),
        "weights_sha256": weights_digest(state),
    }
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    try:
        save_file(state, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    sidecar = {"stage": stage, "step": step, "metrics": metrics or {}, "config": config.to_dict()}
    _atomic_write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2))
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def list_checkpoints(run: str | Path, stage: str | None = None) -> list[Path]:
    """Step checkpoints of a run folder, oldest first (by step, coarse before fine)."""
    folder = Path(run) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_RE.match(p.name)
        if m and (stage is None or m.group(1) == stage):
            found.append((m.group(1) == "fine", int(m.group(2)), p))
    return [p for _, _, p in sorted(found)]


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or the best guess inside a run folder (its model, else newest step)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "model.safetensors").is_file():
            return path / "model.safetensors"
        steps = list_checkpoints(path)
        if steps:
            return steps[-1]
        raise CheckpointError(
            f"{path} holds no checkpoint (no model.safetensors or checkpoints/); train first"
        )
    raise CheckpointError(
        f"checkpoint {path} does not exist; pass a .safetensors file or a run folder"
    )


def read_info(path: str | Path) -> CheckpointInfo:
    """Read a checkpoint's metadata without loading the weights."""
    path = resolve_checkpoint(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc})") from None
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path} is not an msdepth checkpoint (no msdepth metadata)")
    try:
        config = Config.from_dict(json.loads(meta["config"]), source=str(path))
        step = int(meta.get("step", "0"))
    except (KeyError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{path} has corrupt metadata ({exc})") from None
    metrics: dict[str, Any] = {}
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            metrics = json.loads(sidecar.read_text(encoding="utf-8")).get("metrics", {})
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            metrics = {}
    return CheckpointInfo(
        path, config, meta.get("stage", "fine"), step, metrics, meta.get("weights_sha256")
    )


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """A checkpoint's tensors (CPU) and info, checked against the digest in its header."""
    info = read_info(path)
    try:
        state = load_file(str(info.path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{info.path} is corrupt or truncated ({exc})") from None
    if info.weights_sha256 is not None and weights_digest(state) != info.weights_sha256:
        raise CheckpointError(
            f"{info.path} is damaged: its weights do not match the digest in its header "
            "(corrupted or tampered); use another checkpoint or copy it again"
        )
    return state, info


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[MultiScaleDepth, CheckpointInfo]:
    """Rebuild the model a checkpoint describes and load its weights (eval mode)."""
    state, info = load_weights(path)
    model = MultiScaleDepth(info.config.model, stage=info.stage)  # type: ignore[arg-type]
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {unexpected[:3]}"
            if unexpected
            else f"shape of {wrong[0]} is {tuple(state[wrong[0]].shape)}, expected {tuple(expected[wrong[0]].shape)}"
        )
        raise CheckpointError(
            f"{info.path} does not match the geometry in its own config: {detail}"
        )
    model.load_state_dict(state)
    model.eval()
    return model.to(device), info

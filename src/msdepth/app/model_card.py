"""The page's model card: what the loaded model is, read from its checkpoint and run folder.

Everything shown is recorded in the checkpoint (config, stage, step, the validation metrics of
its ``.json`` sidecar) or beside it in the run folder (step checkpoints, ``log.jsonl``); what is
not recorded is said to be so rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msdepth.inference.camera import NYU_KINECT, NYU_SIZE

NOT_RECORDED = "not recorded in this checkpoint"


def model_card(predictor: Any) -> dict[str, Any]:
    """A JSON-able description of ``predictor``'s model (a `DepthPredictor`)."""
    config = predictor.config
    width, height = predictor.input_size
    source = Path(predictor.source) if predictor.source is not None else None
    card: dict[str, Any] = {
        "checkpoint": str(source) if source else NOT_RECORDED,
        "backend": predictor.backend.name,
        "device": str(predictor.device),
        "input_size": f"{width}x{height}",
        "scale_correction": round(predictor.scale_correction, 6),
        "stage": NOT_RECORDED,
        "steps": {},
        "planned_steps": {
            "coarse": config.train.coarse_steps,
            "fine": config.train.fine_steps,
            "batch_size": config.train.batch_size,
        },
        "validation": {},
        "training_data": NOT_RECORDED,
        "training_focal": _training_focal(config.model),
    }
    if source is None or source.suffix.lower() != ".safetensors":
        return card
    from msdepth.checkpoint import list_checkpoints, read_info

    info = read_info(source)
    card["stage"] = info.stage
    card["steps"][info.stage] = info.step
    card["validation"] = {
        k: round(float(v), 4) for k, v in info.metrics.items() if isinstance(v, (int, float))
    }
    run = source.parent.parent if source.parent.name == "checkpoints" else source.parent
    for stage in ("coarse", "fine"):
        steps = list_checkpoints(run, stage)
        if steps and stage not in card["steps"]:
            card["steps"][stage] = int(steps[-1].stem.split("-")[-1])
    data = _training_data(run / "log.jsonl")
    if data:
        card["training_data"] = data
    return card


def _training_focal(model: Any) -> str:
    """The training camera `predict` scales depth by (``model.train_focal``, the focal rule of
    `msdepth.inference.camera`), or that it is not recorded and what is assumed instead."""
    if model.train_focal > 0:
        source = f" ({model.train_focal_source})" if model.train_focal_source else ""
        return f"{model.train_focal:.2f} px at {model.reference_width} px wide{source}"
    return (
        f"{NOT_RECORDED}; predict assumes NYU's Kinect ({NYU_KINECT['fx']:.2f} px at "
        f"{NYU_SIZE[0]} px wide) and keeps depth at input width / reference width"
    )


def _training_data(log: Path) -> str | None:
    """The dataset a run's ``log.jsonl`` names (its last ``data`` record: a resumed run logs
    it again), as "synthetic rooms (seed 0), 2000 images at data/synth"."""
    if not log.is_file():
        return None
    found = None
    try:
        with open(log, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                if isinstance(record, dict) and record.get("kind") == "data":
                    found = record
    except (OSError, ValueError):
        return None
    if found is None:
        return None
    source = found.get("source") or {}
    kind = source.get("kind", "prepared dataset") if isinstance(source, dict) else "dataset"
    if kind == "synthetic":
        kind = f"synthetic rooms (msdepth.synth, seed {source.get('seed')})"
    count = found.get("train_images")
    images = f", {count} training images" if count else ""
    return f"{kind}{images} at {found.get('data')}"

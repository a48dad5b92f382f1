"""Deployable models: ONNX (dynamic batch) and TorchScript, from a checkpoint.

The exported graph is the network alone: RGB in [0, 1] at the configured input size
(N, 3, 228, 304) -> natural-log depth (N, 1, 55, 74); the ImageNet normalisation is inside.
Resizing, log-space upsampling, ``exp`` and the whole-frame scale correction stay outside, in
`msdepth.inference.whole_frame`, shared with the PyTorch path. The ONNX file carries the
checkpoint's config as JSON in ``metadata_props`` (keys ``format``, ``config``, ``stage``,
``step``), so ``msdepth predict --onnx`` and ``msdepth.load("model.onnx")`` know the geometry.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch

from msdepth.checkpoint import CheckpointInfo, load_model
from msdepth.devices import resolve_device
from msdepth.errors import CheckpointError, ConfigError
from msdepth.fileio import atomic_path
from msdepth.inference.backends import ONNX_FORMAT, ONNX_INPUT, ONNX_OUTPUT
from msdepth.models import MultiScaleDepth

ONNX_OPSET = 18
MIN_OPSET = 17  # lower opsets cannot express the network (no version adapters)


def _example_input(model: MultiScaleDepth, batch: int = 2) -> torch.Tensor:
    h, w = model.geometry.input_hw
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    return x.to(model.rgb_mean.device)


def onnx_metadata(info: CheckpointInfo) -> dict[str, str]:
    """The ``metadata_props`` written into an exported ONNX model."""
    return {
        "format": ONNX_FORMAT,
        "config": info.config.to_json(),
        "stage": info.stage,
        "step": str(info.step),
        "input": f"{ONNX_INPUT}: float32 (N, 3, H, W) RGB in [0, 1] at the config's input size",
        "output": f"{ONNX_OUTPUT}: float32 (N, 1, h, w) natural log of depth in metres",
    }


def export_onnx(
    checkpoint: str | Path, out: str | Path, opset: int = ONNX_OPSET, device: str = "cpu"
) -> Path:
    """Write the checkpoint's network as ONNX with a dynamic batch axis (torch.onnx dynamo
    exporter) and the msdepth metadata; returns the path. The file is replaced only when the
    export succeeded. ``device`` is where the model is traced; the file runs anywhere."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ConfigError(
            f"--opset {opset} is not supported; choose {MIN_OPSET} to {newest} "
            f"(default {ONNX_OPSET})"
        )
    out = Path(out)
    if out.is_dir():
        raise CheckpointError(f"{out} is a folder; give a file name such as model.onnx")
    model, info = load_model(checkpoint, device=resolve_device(device))
    batch = torch.export.Dim("batch", min=1, max=1024)
    # The exporter is chatty (progress lines, optional-dependency warnings): keep it quiet.
    quiet = io.StringIO()
    onnx_logger = logging.getLogger("torch.onnx")
    previous = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                (_example_input(model),),
                input_names=[ONNX_INPUT],
                output_names=[ONNX_OUTPUT],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:
        raise CheckpointError(
            f"ONNX export of {info.path} failed ({type(exc).__name__}: {exc})"
        ) from None
    finally:
        onnx_logger.setLevel(previous)
    got = program.model.opset_imports.get("")
    if got != opset:  # the exporter falls back to its own opset when conversion fails
        raise ConfigError(
            f"ONNX export of {info.path} could not target opset {opset} (got {got}); "
            f"use --opset {ONNX_OPSET}"
        )
    program.model.metadata_props.update(onnx_metadata(info))
    with atomic_path(out) as tmp:
        program.save(str(tmp), external_data=False)
    return out


def export_torchscript(checkpoint: str | Path, out: str | Path, device: str = "cpu") -> Path:
    """Write the checkpoint's network as a traced TorchScript module (``torch.jit.load``-able,
    any batch size); the config JSON is stored as the extra file ``config.json``. Traced on
    ``device``: a module traced on a GPU keeps its tensors there (``map_location`` moves them).

    PyTorch 2.13 deprecates TorchScript in favour of ``torch.export``; it still loads in C++
    (libtorch) and older PyTorch, which is what it is kept for. ONNX is the recommended target.
    """
    out = Path(out)
    if out.is_dir():
        raise CheckpointError(f"{out} is a folder; give a file name such as model.pt")
    model, info = load_model(checkpoint, device=resolve_device(device))
    with warnings.catch_warnings(), torch.no_grad(), atomic_path(out) as tmp:
        warnings.simplefilter("ignore")  # PyTorch 2.13 marks TorchScript deprecated; it works
        traced = torch.jit.trace(model, (_example_input(model),), check_trace=False)
        torch.jit.save(traced, str(tmp), _extra_files={"config.json": info.config.to_json()})
    return out

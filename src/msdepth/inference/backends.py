"""Network runners: the same (N, 3, H, W) RGB in [0, 1] -> (N, h, w) log depth, two engines.

`TorchBackend` runs a checkpoint's `MultiScaleDepth` under ``torch.inference_mode()``;
`OnnxBackend` runs an exported model with ONNX Runtime and needs no PyTorch. Both read the
model's `Config` so the shared pre/post-processing (`whole_frame`) knows the geometry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from msdepth.config import Config
from msdepth.errors import CheckpointError, ConfigError
from msdepth.inference.whole_frame import to_metric_depth

# Keys of the ONNX model's metadata_props written by `msdepth export`.
ONNX_FORMAT = "msdepth-onnx"
ONNX_INPUT = "rgb"
ONNX_OUTPUT = "log_depth"


class Backend(Protocol):
    """Anything that maps a float32 batch (N, 3, H, W) in [0, 1] to log depth (N, h, w)."""

    name: str
    device: str
    config: Config

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...

    def metric_depth(
        self, log_depth: np.ndarray, height: int, width: int, correction: float
    ) -> np.ndarray:
        """`whole_frame.to_metric_depth` (upsample, exp, correct) on this engine's threads."""
        ...


def check_device(device: str) -> str:
    """The device ``device`` names (``auto``: CUDA where PyTorch sees it, else CPU), if PyTorch
    can run on it here, else a one-line `ConfigError` saying why (`msdepth.devices`)."""
    from msdepth.devices import resolve_device

    return str(resolve_device(device))


class TorchBackend:
    """A `MultiScaleDepth` in eval mode; no autograd (``torch.inference_mode``)."""

    name = "torch"

    def __init__(self, model: Any, config: Config, device: str = "cpu"):
        import torch

        self.device = str(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self._torch = torch

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return self.model(x)[:, 0].float().cpu().numpy()

    def metric_depth(
        self, log_depth: np.ndarray, height: int, width: int, correction: float
    ) -> np.ndarray:
        """`whole_frame.to_metric_depth` in PyTorch (``interpolate``, the same bilinear rule).

        NumPy's matrix product would run on OpenBLAS's own threads; on a machine with few cores
        they and PyTorch's OpenMP threads spin-wait against each other after each call, which
        made the next network forward up to 3x slower (BENCHMARKS.md, inference). On PyTorch's
        threads the whole prediction uses one pool.
        """
        torch = self._torch
        with torch.inference_mode():
            log = torch.from_numpy(np.ascontiguousarray(log_depth, dtype=np.float32))
            full = torch.nn.functional.interpolate(
                log[None, None], size=(height, width), mode="bilinear", align_corners=False
            )[0, 0]
            return full.exp_().mul_(float(correction)).numpy()


class OnnxBackend:
    """An ONNX model written by `msdepth export`, run with ONNX Runtime on the CPU."""

    name = "onnx"
    device = "cpu"

    def __init__(self, path: str | Path, threads: int | None = None):
        path = Path(path)
        try:
            import onnxruntime as ort
        except ImportError:
            raise CheckpointError(
                "running an ONNX model needs onnxruntime: pip install 'msdepth[onnx]'"
            ) from None
        if not path.is_file():
            raise CheckpointError(
                f"ONNX model {path} does not exist; create it with msdepth export"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path} is not a loadable ONNX model ({first})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != ONNX_FORMAT or "config" not in meta:
            raise CheckpointError(
                f"{path} was not written by `msdepth export` (no msdepth metadata); export it again"
            )
        try:
            self.config = Config.from_dict(json.loads(meta["config"]), source=str(path))
        except (ValueError, ConfigError) as exc:
            raise CheckpointError(f"{path} has corrupt msdepth metadata ({exc})") from None
        self.metadata = dict(meta)
        self.path = path

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run([ONNX_OUTPUT], {ONNX_INPUT: x})[0][:, 0]

    def metric_depth(
        self, log_depth: np.ndarray, height: int, width: int, correction: float
    ) -> np.ndarray:
        """`whole_frame.to_metric_depth` in NumPy (this path needs no PyTorch)."""
        return to_metric_depth(log_depth, height, width, correction)

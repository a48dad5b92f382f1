"""msdepth: single-image depth prediction with the multi-scale network of Eigen et al. (2014).

The inference API is imported lazily so that ``import msdepth`` stays light::

    import msdepth
    model = msdepth.load("runs/nyu")           # checkpoint file, run folder or .onnx
    depth = model.predict("photo.jpg")         # float32 metres at the photo's size
    depth = model.predict("photo.jpg", fov=70) # ... for a camera of 70 degrees (or focal=PX)
    result = model.infer("photo.jpg")          # Prediction: .depth, .K, .metadata()
    points, colors = msdepth.to_point_cloud(result.depth, msdepth.read_rgb("photo.jpg"),
                                            result.intrinsics)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load": "msdepth.inference.predictor",
    "DepthPredictor": "msdepth.inference.predictor",
    "to_point_cloud": "msdepth.inference.pointcloud",
    "save_ply": "msdepth.inference.pointcloud",
    "to_mesh": "msdepth.inference.pointcloud",
    "Intrinsics": "msdepth.inference.camera",
    "CameraSpec": "msdepth.inference.camera",
    "Prediction": "msdepth.inference.result",
    "DepthPoints": "msdepth.inference.align",
    "read_points": "msdepth.inference.align",
    "read_rgb": "msdepth.data.images",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'msdepth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

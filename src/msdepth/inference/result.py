"""`Prediction`: one depth map and what it is (unit, model, camera, alignment).

Returned by ``DepthPredictor.infer``; `msdepth.inference.outputs` writes its `metadata` into
the 16-bit PNG's text chunk and ``NAME.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from msdepth.inference.align import Alignment
from msdepth.inference.camera import DepthCamera, Intrinsics

UNIT = "metre"
PNG16_PER_METRE = 1000  # uint16 PNG values per metre (millimetres)


@dataclass
class Prediction:
    """Metric depth of one image and how it was made.

    ``depth`` float32 metres (H, W), 0 or NaN where invalid; ``camera`` its K, the focal used
    and the factor of the focal rule (`msdepth.inference.camera`); ``alignment`` the fit to
    known depths when ``--align`` was given; ``model`` the checkpoint or ONNX file.
    """

    depth: np.ndarray
    camera: DepthCamera
    model: str | None = None
    alignment: Alignment | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def intrinsics(self) -> Intrinsics:
        return self.camera.intrinsics

    @property
    def K(self) -> np.ndarray:
        """The 3x3 camera matrix of the depth map (float64)."""
        return self.camera.intrinsics.matrix()

    @property
    def aligned(self) -> bool:
        return self.alignment is not None

    def depth_stats(self) -> dict[str, float | int | None]:
        """min, median, max of the valid depth (metres) and the valid pixel count."""
        d = np.asarray(self.depth)
        values = d[np.isfinite(d) & (d > 0)]
        if not values.size:
            return {"min": None, "median": None, "max": None, "valid_pixels": 0}
        return {
            "min": float(values.min()),
            "median": float(np.median(values)),
            "max": float(values.max()),
            "valid_pixels": int(values.size),
        }

    def metadata(self) -> dict[str, Any]:
        """What the outputs say about themselves (JSON-ready; the PNG chunk and NAME.json)."""
        h, w = self.depth.shape
        return {
            "format": "msdepth-depth",
            "unit": UNIT,
            "png16_per_metre": PNG16_PER_METRE,
            "png16_invalid": 0,
            "depth": "z along the optical axis (not distance along the ray)",
            "model": self.model,
            "size": [w, h],
            **self.camera.describe(),
            "intrinsics": self.intrinsics.to_dict(),
            "K": self.K.tolist(),
            "aligned": self.aligned,
            **({"alignment": self.alignment.to_dict()} if self.alignment else {}),
            "depth_m": self.depth_stats(),
            **self.extra,
        }

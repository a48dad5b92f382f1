"""The paper's networks: `CoarseNet`, `FineNet` and both together in `MultiScaleDepth`."""

from msdepth.models.geometry import Geometry, geometry_for
from msdepth.models.multiscale import CoarseNet, FineNet, MultiScaleDepth, count_parameters

__all__ = [
    "CoarseNet",
    "FineNet",
    "Geometry",
    "MultiScaleDepth",
    "count_parameters",
    "geometry_for",
]

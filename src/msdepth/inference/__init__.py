"""Using a trained model: whole-frame depth prediction, the camera and its focal rule, alignment
to known depths, point clouds and meshes, inputs and output files."""

from msdepth.inference.align import DepthPoints, fit_alignment, read_points
from msdepth.inference.camera import CameraSpec, Intrinsics
from msdepth.inference.pointcloud import save_ply, to_mesh, to_point_cloud
from msdepth.inference.predictor import DepthPredictor, load
from msdepth.inference.result import Prediction

__all__ = [
    "CameraSpec",
    "DepthPoints",
    "DepthPredictor",
    "Intrinsics",
    "Prediction",
    "fit_alignment",
    "load",
    "read_points",
    "save_ply",
    "to_mesh",
    "to_point_cloud",
]

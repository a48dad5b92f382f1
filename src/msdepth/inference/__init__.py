"""Using a trained model: whole-frame depth prediction, point clouds, inputs and output files."""

from msdepth.inference.pointcloud import Intrinsics, save_ply, to_point_cloud
from msdepth.inference.predictor import DepthPredictor, load

__all__ = ["DepthPredictor", "Intrinsics", "load", "save_ply", "to_point_cloud"]

"""Depth map + image -> coloured 3D points, and PLY files that standard tools open.

Camera frame (OpenCV's): x right, y down, z forward, in metres. A pixel at column u, row v with
depth z (the distance along the optical axis, as Kinect and the network give it) becomes
``x = (u - cx) z / fx``, ``y = (v - cy) z / fy``, with pixel centres at integer coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msdepth.errors import DataError

# NYU Depth V2's Kinect colour camera at 640x480 (the toolbox's camera_params.m).
NYU_KINECT = {"fx": 518.8579, "fy": 519.4696, "cx": 325.5824, "cy": 253.7362}
NYU_SIZE = (640, 480)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera intrinsics in pixels of the image they describe."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def nyu_kinect(cls, width: int = 640, height: int = 480) -> Intrinsics:
        """NYU's Kinect intrinsics scaled from 640x480 to an image of ``width`` x ``height``."""
        sx, sy = width / NYU_SIZE[0], height / NYU_SIZE[1]
        k = NYU_KINECT
        return cls(k["fx"] * sx, k["fy"] * sy, k["cx"] * sx, k["cy"] * sy)

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> Intrinsics:
        """Square pixels, principal point at the centre, ``fov_deg`` the horizontal field of view."""
        if not 0 < fov_deg < 180:
            raise DataError(f"field of view must be between 0 and 180 degrees, got {fov_deg}")
        f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
        return cls(f, f, (width - 1) / 2, (height - 1) / 2)


def to_point_cloud(
    depth: np.ndarray,
    rgb: np.ndarray | None = None,
    intrinsics: Intrinsics | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Back-project valid pixels: (points (N, 3) float32 metres, colours (N, 3) uint8).

    Valid = finite, > 0 and inside ``mask``; N is their count. Intrinsics default to NYU's
    Kinect scaled to the depth map; colours default to grey when no image is given.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise DataError(f"depth must be an (H, W) map, got shape {depth.shape}")
    h, w = depth.shape
    k = intrinsics or Intrinsics.nyu_kinect(w, h)
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    v, u = np.nonzero(valid)
    z = depth[v, u].astype(np.float64)
    points = np.stack([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z], axis=1)
    if rgb is None:
        colors = np.full((len(z), 3), 200, dtype=np.uint8)
    else:
        rgb = np.asarray(rgb)
        if rgb.shape[:2] != (h, w) or rgb.ndim != 3 or rgb.dtype != np.uint8:
            raise DataError(
                f"colours must be an (H, W, 3) uint8 image of the depth's size {w}x{h}, "
                f"got {rgb.shape} {rgb.dtype}"
            )
        colors = rgb[v, u, :3]
    return points.astype(np.float32), np.ascontiguousarray(colors, dtype=np.uint8)


def save_ply(path: str | Path, points: np.ndarray, colors: np.ndarray, binary: bool = True) -> Path:
    """Write a PLY point cloud: float32 x y z, uint8 red green blue per vertex.

    ``binary`` writes ``binary_little_endian 1.0`` (compact, fast); otherwise ASCII.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    if len(points) != len(colors):
        raise DataError(f"{len(points)} points but {len(colors)} colours")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "binary_little_endian" if binary else "ascii"
    header = (
        f"ply\nformat {fmt} 1.0\ncomment written by msdepth (x right, y down, z forward; metres)\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        if binary:
            vertex = np.empty(
                len(points),
                dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)],
            )
            vertex["xyz"] = points
            vertex["rgb"] = colors
            f.write(vertex.tobytes())
        else:
            table = np.concatenate([points.astype(np.float64), colors.astype(np.float64)], axis=1)
            np.savetxt(f, table, fmt="%.9g %.9g %.9g %d %d %d")
    return path

"""Depth map + image -> coloured 3D points, and PLY files that standard tools open.

Camera frame (OpenCV's): x right, y down, z forward, in metres. A pixel at column u, row v with
depth z (the distance along the optical axis, as Kinect and the network give it) becomes
``x = (u - cx) z / fx``, ``y = (v - cy) z / fy``, with pixel centres at integer coordinates.

Flying pixels: where depth jumps (a chair in front of a wall), the network's smooth, upsampled
depth ramps from one surface to the other, and back-projected those pixels hang in the gap.
Two 4-neighbour pixels of depths z1, z2 are a **discontinuity** when
``|z1 - z2| / min(z1, z2) * f > EDGE_SLOPE`` (f = fx across columns, fy across rows): the
surface between them would be seen at more than atan(10) = 84.3 degrees from face-on, steeper
than a floor 1.5 m below the camera up to 15 m away. Both pixels of such a pair are left out
of point clouds (`flying_pixels`, unless ``keep_edges``) and no mesh face spans such a pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from msdepth.errors import DataError
from msdepth.inference.camera import NYU_KINECT, NYU_SIZE, Intrinsics

__all__ = [
    "EDGE_SLOPE",
    "NYU_KINECT",
    "NYU_SIZE",
    "Intrinsics",
    "flying_pixels",
    "save_mesh_ply",
    "save_ply",
    "to_mesh",
    "to_point_cloud",
]

EDGE_SLOPE = 10.0  # |dz| / z * f above which neighbours are a depth discontinuity (84.3 deg)


def _steep(z1: np.ndarray, z2: np.ndarray, focal: float, slope: float) -> np.ndarray:
    """True where both depths are valid and the pair is a discontinuity (see module doc)."""
    both = (z1 > 0) & (z2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(z1 - z2) / np.minimum(z1, z2)
    return both & (rel * focal > slope)


def _valid_depth(depth: np.ndarray) -> np.ndarray:
    """float64 depth with every invalid reading (not finite, <= 0) as 0."""
    depth = np.asarray(depth, dtype=np.float64)
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)


def flying_pixels(
    depth: np.ndarray, intrinsics: Intrinsics, slope: float = EDGE_SLOPE
) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour across a depth discontinuity (module docstring).
    Invalid neighbours (0, NaN) never make a discontinuity."""
    z = _valid_depth(depth)
    edge = np.zeros(z.shape, dtype=bool)
    across = _steep(z[:, :-1], z[:, 1:], intrinsics.fx, slope)
    edge[:, :-1] |= across
    edge[:, 1:] |= across
    down = _steep(z[:-1], z[1:], intrinsics.fy, slope)
    edge[:-1] |= down
    edge[1:] |= down
    return edge


def to_point_cloud(
    depth: np.ndarray,
    rgb: np.ndarray | None = None,
    intrinsics: Intrinsics | None = None,
    mask: np.ndarray | None = None,
    keep_edges: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Back-project valid pixels: (points (N, 3) float32 metres, colours (N, 3) uint8).

    Valid = finite, > 0, inside ``mask`` and, unless ``keep_edges``, not a flying pixel at a
    depth discontinuity (`flying_pixels`); N is their count. Intrinsics default to NYU's
    Kinect scaled to the depth map; colours default to grey when no image is given.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise DataError(f"depth must be an (H, W) map, got shape {depth.shape}")
    h, w = depth.shape
    k = intrinsics or Intrinsics.nyu_kinect(w, h)
    valid = _point_mask(depth, k, mask, keep_edges)
    v, u = np.nonzero(valid)
    return _back_project(depth, rgb, k, v, u)


def _point_mask(
    depth: np.ndarray, k: Intrinsics, mask: np.ndarray | None, keep_edges: bool
) -> np.ndarray:
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    if not keep_edges:
        valid &= ~flying_pixels(depth, k)
    return valid


def _back_project(
    depth: np.ndarray, rgb: np.ndarray | None, k: Intrinsics, v: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    h, w = depth.shape
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


def to_mesh(
    depth: np.ndarray,
    rgb: np.ndarray | None = None,
    intrinsics: Intrinsics | None = None,
    mask: np.ndarray | None = None,
    keep_edges: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The depth map as a triangulated surface: (vertices (N, 3) float32, colours (N, 3)
    uint8, faces (M, 3) int32 vertex indices).

    Two triangles per 2x2 block of valid pixels; unless ``keep_edges``, a triangle is left out
    when any of its three edges (the diagonal counted sqrt(2) pixels long) crosses a depth
    discontinuity, so the surface is cut there instead of stretched across the gap. Triangles
    wind counter-clockwise as seen from the camera; unused pixels are not vertices.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise DataError(f"depth must be an (H, W) map, got shape {depth.shape}")
    h, w = depth.shape
    k = intrinsics or Intrinsics.nyu_kinect(w, h)
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    z = np.where(valid, _valid_depth(depth), 0.0)
    z00, z01, z10, z11 = z[:-1, :-1], z[:-1, 1:], z[1:, :-1], z[1:, 1:]
    if keep_edges:
        ok_h_top = ok_h_bottom = ok_v_left = ok_v_right = ok_diag = np.ones_like(z00, bool)
    else:
        diag_f = max(k.fx, k.fy) / np.sqrt(2.0)
        ok_h_top, ok_h_bottom = (
            ~_steep(z00, z01, k.fx, EDGE_SLOPE),
            ~_steep(z10, z11, k.fx, EDGE_SLOPE),
        )
        ok_v_left, ok_v_right = (
            ~_steep(z00, z10, k.fy, EDGE_SLOPE),
            ~_steep(z01, z11, k.fy, EDGE_SLOPE),
        )
        ok_diag = ~_steep(z10, z01, diag_f, EDGE_SLOPE)
    # (p00, p10, p01) and (p01, p10, p11), sharing the p10-p01 diagonal
    first = (z00 > 0) & (z10 > 0) & (z01 > 0) & ok_v_left & ok_h_top & ok_diag
    second = (z01 > 0) & (z10 > 0) & (z11 > 0) & ok_diag & ok_v_right & ok_h_bottom
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    i00, i01, i10, i11 = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]
    faces = np.concatenate(
        [
            np.stack([i00[first], i10[first], i01[first]], axis=1),
            np.stack([i01[second], i10[second], i11[second]], axis=1),
        ]
    )
    used = np.zeros(h * w, dtype=bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    v, u = np.divmod(np.nonzero(used)[0], w)
    points, colors = _back_project(depth, rgb, k, v, u)
    return points, colors, remap[faces].astype(np.int32)


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


def save_mesh_ply(
    path: str | Path, points: np.ndarray, colors: np.ndarray, faces: np.ndarray
) -> Path:
    """Write a triangle mesh as binary PLY: vertices (float32 x y z, uint8 red green blue) and
    faces (``uchar`` count 3, ``int`` vertex_indices), as MeshLab, Blender and Open3D read."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)
    if len(points) != len(colors):
        raise DataError(f"{len(points)} points but {len(colors)} colours")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment written by msdepth (x right, y down, z forward; metres)\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vertex = np.empty(len(points), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    vertex["xyz"], vertex["rgb"] = points, colors
    face = np.empty(len(faces), dtype=[("n", "u1"), ("idx", "<i4", 3)])
    face["n"], face["idx"] = 3, faces
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(vertex.tobytes())
        f.write(face.tobytes())
    return path

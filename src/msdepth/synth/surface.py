"""What lies under each pixel: world position, normal and texture coordinates of the nearest hit.

Computed once per pixel after ray casting (deferred), so the primitive tests stay minimal.
Arrays are flat (H*W,) float32; texture coordinates (u, v) are metres along the surface, v up on
walls, so textures keep their real-world scale at any distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msdepth.synth.raycast import Hits, Rays
from msdepth.synth.scene import ROOM_NORMALS, Scene


@dataclass
class Surface:
    point: np.ndarray  # (3, P) world
    normal: np.ndarray  # (3, P) unit, facing the camera side of the surface
    uv: np.ndarray | None  # (2, P) metres
    prim: np.ndarray  # (P,) int32


def _box_normals(p: np.ndarray, boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(3, M) points on boxes ``boxes[box]`` -> (3, M) outward normals of the face each lies on."""
    gap, sign = [], []
    for a in range(3):
        d_lo = np.abs(p[a] - np.take(boxes[:, a], box))
        d_hi = np.abs(p[a] - np.take(boxes[:, a + 3], box))
        gap.append(np.minimum(d_lo, d_hi))
        sign.append(np.where(d_lo < d_hi, np.float32(-1.0), np.float32(1.0)))
    on_x = (gap[0] <= gap[1]) & (gap[0] <= gap[2])
    on_y = ~on_x & (gap[1] <= gap[2])
    on_z = ~on_x & ~on_y
    return np.stack([sign[0] * on_x, sign[1] * on_y, sign[2] * on_z])


def surface_at(rays: Rays, hits: Hits, scene: Scene) -> Surface:
    """Position, normal and texture coordinates at every pixel's nearest hit."""
    t = hits.depth.reshape(-1)
    prim = hits.prim.reshape(-1)
    p = np.empty((3, t.size), np.float32)
    for i in range(3):
        np.multiply(t, rays.d[i].reshape(-1), out=p[i])
        p[i] += rays.origin[i]
    # Room normals everywhere first (ids clipped to the room's six), then each kind overwrites
    # its own pixels.
    room_id = np.minimum(prim, 5)
    n = np.stack([np.take(ROOM_NORMALS[:, i], room_id) for i in range(3)])
    ids = scene.box_ids
    sel = np.flatnonzero((prim >= ids.start) & (prim < ids.stop))
    if sel.size:
        n[:, sel] = _box_normals(p[:, sel], scene.boxes, prim[sel] - ids.start)

    # Texture coordinates: the two world axes across the dominant normal axis (v vertical on
    # walls); cylinder sides unroll to (arc length, height) below.
    a = np.abs(n)
    along_x = (a[0] >= a[1]) & (a[0] >= a[2])
    along_y = ~along_x & (a[1] >= a[2])
    u = np.where(along_x, p[2], p[0])
    v = np.where(along_y, p[2], p[1])

    ids = scene.cylinder_ids
    sel = np.flatnonzero((prim >= ids.start) & (prim < ids.stop))
    if sel.size:
        cyl = scene.cylinders[prim[sel] - ids.start]
        rx, rz = (p[0, sel] - cyl[:, 0]) / cyl[:, 2], (p[2, sel] - cyl[:, 1]) / cyl[:, 2]
        cap = np.abs(p[1, sel] - cyl[:, 4]) < 1e-3
        n[0, sel] = np.where(cap, 0.0, rx)
        n[1, sel] = np.where(cap, 1.0, 0.0)
        n[2, sel] = np.where(cap, 0.0, rz)
        u[sel] = np.where(cap, p[0, sel], np.arctan2(rz, rx) * cyl[:, 2])
        v[sel] = np.where(cap, p[2, sel], p[1, sel])
    ids = scene.sphere_ids
    sel = np.flatnonzero((prim >= ids.start) & (prim < ids.stop))
    if sel.size:
        sph = scene.spheres[prim[sel] - ids.start]
        n[:, sel] = (p[:, sel] - sph[:, :3].T) / sph[:, 3]
    return Surface(p, n, np.stack([u, v]).astype(np.float32), prim)

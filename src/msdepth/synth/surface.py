"""What lies under each pixel: world position, normal and texture coordinates of the nearest hit.

Computed once per pixel after ray casting (deferred), so the primitive tests stay minimal.
Arrays are flat (H*W,) float32; texture coordinates (u, v) are metres along the surface, v up on
walls, so textures keep their real-world scale at any distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msdepth.synth.raycast import Hits, Rays
from msdepth.synth.scene import Scene


@dataclass
class Surface:
    point: np.ndarray  # (3, P) world
    normal: np.ndarray  # (3, P) unit, facing the camera side of the surface
    uv: np.ndarray | None  # (2, P) metres
    prim: np.ndarray  # (P,) intp


def _face_tables(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Per primitive id and axis: the coordinate of the face a camera ray can hit across that
    axis (inf: none) and its normal's sign; (N, 3) each, room faces and boxes only.

    The camera is inside the room and outside every box, so a box shows at most one face per
    axis: its low face where the camera is below the box on that axis, its high face where it
    is above, none where the camera is level with the box.
    """
    pos = np.full((scene.primitive_count, 3), np.inf, np.float32)
    sign = np.zeros((scene.primitive_count, 3), np.float32)
    room = scene.room
    for face, (axis, at, out) in enumerate(
        [
            (1, 0.0, 1),
            (1, room[1], -1),
            (0, 0.0, 1),
            (0, room[0], -1),
            (2, 0.0, 1),
            (2, room[2], -1),
        ]
    ):
        pos[face, axis], sign[face, axis] = at, out
    o = scene.camera.position
    lo, hi = scene.boxes[:, :3], scene.boxes[:, 3:]
    ids = scene.box_ids
    below, above = o < lo, o > hi
    pos[ids.start : ids.stop] = np.where(below, lo, np.where(above, hi, np.inf))
    sign[ids.start : ids.stop] = below * np.float32(-1) + above * np.float32(1)
    return pos, sign


def surface_at(rays: Rays, hits: Hits, scene: Scene) -> Surface:
    """Position, normal and texture coordinates at every pixel's nearest hit."""
    t = hits.depth.reshape(-1)
    prim = hits.prim.reshape(-1).astype(np.intp)
    p = np.empty((3, t.size), np.float32)
    for i in range(3):
        np.multiply(t, rays.d[i].reshape(-1), out=p[i])
        p[i] += rays.origin[i]
    # Room faces and boxes: the face hit is the candidate face (see `_face_tables`) nearest to
    # the point; cylinders and spheres overwrite their own pixels below.
    pos, sign = (np.ascontiguousarray(t.T) for t in _face_tables(scene))  # rows per axis
    gap = []
    for a in range(3):
        g = np.take(pos[a], prim)
        np.subtract(p[a], g, out=g)
        gap.append(np.abs(g, out=g))
    along_x = (gap[0] <= gap[1]) & (gap[0] <= gap[2])
    along_y = ~along_x & (gap[1] <= gap[2])
    along_z = ~(along_x | along_y)
    n = np.empty_like(p)
    for a, on in enumerate((along_x, along_y, along_z)):
        np.multiply(np.take(sign[a], prim), on, out=n[a])

    # Texture coordinates: the two world axes across the face's axis (v vertical on walls);
    # cylinder sides unroll to (arc length, height) below.
    u = np.where(along_x, p[2], p[0])
    v = np.where(along_y, p[2], p[1])

    ids = scene.cylinder_ids
    rest = np.flatnonzero(prim >= ids.start)  # cylinders and spheres: few pixels
    sel = rest[prim[rest] < ids.stop]
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
    sel = rest[prim[rest] >= ids.start]
    if sel.size:
        sph = scene.spheres[prim[sel] - ids.start]
        n[:, sel] = (p[:, sel] - sph[:, :3].T) / sph[:, 3]
        u[sel], v[sel] = p[0, sel], p[1, sel]  # spheres: projected along z
    return Surface(p, n, np.stack([u, v]), prim)

"""What lies under each pixel: world position, normal and texture coordinates of the nearest hit.

Computed once per pixel after ray casting (deferred), so the primitive tests stay minimal.
Arrays are flat (H*W,) float32; texture coordinates (u, v) are metres along the surface, v up on
walls, so textures keep their real-world scale at any distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msdepth.synth._jit import kernel
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


@kernel
def _surface_kernel(t, prim, d, o, pos, sign, cyls, c0, spheres, s0, p, n, uv):  # pragma: no cover
    """Per pixel (flat): the hit point ``p`` = o + t d, its normal ``n`` and texture coordinates
    ``uv``, all (k, P) float32.

    Room faces and boxes: the face hit is the candidate face (see `_face_tables`: ``pos`` and
    ``sign``, (3, N)) nearest to the point; texture coordinates are the two world axes across
    the face's axis (v vertical on walls). Cylinders (ids from ``c0``) are their top cap or
    their side, unrolled to (arc length, height); spheres (ids from ``s0``) project along z.
    """
    for i in range(t.size):
        k = prim[i]
        px, py, pz = t[i] * d[0, i] + o[0], t[i] * d[1, i] + o[1], t[i] * d[2, i] + o[2]
        p[0, i], p[1, i], p[2, i] = px, py, pz
        if k < c0:
            gx, gy, gz = abs(px - pos[0, k]), abs(py - pos[1, k]), abs(pz - pos[2, k])
            on_x = gx <= gy and gx <= gz
            on_y = not on_x and gy <= gz
            on_z = not (on_x or on_y)
            n[0, i] = sign[0, k] * np.float32(on_x)
            n[1, i] = sign[1, k] * np.float32(on_y)
            n[2, i] = sign[2, k] * np.float32(on_z)
            uv[0, i] = pz if on_x else px
            uv[1, i] = pz if on_y else py
        elif k < s0:
            cx, cz, r, top = cyls[k - c0, 0], cyls[k - c0, 1], cyls[k - c0, 2], cyls[k - c0, 4]
            if abs(py - top) < 1e-3:  # the cap
                n[0, i], n[1, i], n[2, i] = 0.0, 1.0, 0.0
                uv[0, i], uv[1, i] = px, pz
            else:
                rx, rz = (px - cx) / r, (pz - cz) / r
                n[0, i], n[1, i], n[2, i] = rx, 0.0, rz
                uv[0, i], uv[1, i] = np.arctan2(rz, rx) * r, py
        else:
            sx, sy, sz, r = (
                spheres[k - s0, 0],
                spheres[k - s0, 1],
                spheres[k - s0, 2],
                spheres[k - s0, 3],
            )
            n[0, i], n[1, i], n[2, i] = (px - sx) / r, (py - sy) / r, (pz - sz) / r
            uv[0, i], uv[1, i] = px, py


def surface_at(rays: Rays, hits: Hits, scene: Scene) -> Surface:
    """Position, normal and texture coordinates at every pixel's nearest hit."""
    t = hits.depth.reshape(-1)
    prim = hits.prim.reshape(-1)
    p, n, uv = (np.empty((k, t.size), np.float32) for k in (3, 3, 2))
    pos, sign = (np.ascontiguousarray(a.T) for a in _face_tables(scene))  # rows per axis
    _surface_kernel(
        t,
        prim,
        rays.dirs.reshape(3, -1),
        rays.origin,
        pos,
        sign,
        np.ascontiguousarray(scene.cylinders, np.float32),
        scene.cylinder_ids.start,
        np.ascontiguousarray(scene.spheres, np.float32),
        scene.sphere_ids.start,
        p,
        n,
        uv,
    )
    return Surface(p, n, uv, prim.astype(np.intp))

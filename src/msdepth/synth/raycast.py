"""Primary-ray casting against the room and analytic primitives, vectorised over pixels.

One ray per pixel, with direction ``R @ (x, y, 1)`` in the camera frame: its ray parameter ``t``
is then the z-depth itself (distance along the optical axis, as NYU stores depth), not the ray
length. Primitives are tested one at a time, each only over the pixels inside its projected
screen rectangle (the cheap half of rasterisation), keeping the nearest hit and its primitive id.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from msdepth.synth.scene import Camera, Scene

NEAR = 0.05  # metres: hits closer than this to the camera plane are ignored
NO_HIT = -1


@dataclass
class Rays:
    """World-space ray directions of a camera, each (H, W) float32, and their reciprocals."""

    origin: np.ndarray  # (3,) float32
    d: tuple[np.ndarray, np.ndarray, np.ndarray]
    inv: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Hits:
    """The nearest surface per pixel: z-depth (inf where none) and primitive id (-1 where none)."""

    depth: np.ndarray  # (H, W) float32
    prim: np.ndarray  # (H, W) int32


def _directions(camera: Camera) -> tuple[tuple, tuple]:
    """World directions (each (H, W)) and reciprocals: d = x * R[:, 0] + (y * R[:, 1] + R[:, 2])
    with x a row and y a column, so each component is one broadcast add over the image."""
    k = (camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
    x = (np.arange(k[0], dtype=np.float32) - np.float32(k[4])) / np.float32(k[2])
    y = (np.arange(k[1], dtype=np.float32) - np.float32(k[5])) / np.float32(k[3])
    r = camera.rotation.astype(np.float32)
    d = tuple((r[i, 0] * x)[None, :] + (r[i, 1] * y + r[i, 2])[:, None] for i in range(3))
    with np.errstate(divide="ignore"):
        inv = tuple(np.float32(1.0) / c for c in d)
    return d, inv


_FIXED_RAYS: dict[bytes, tuple[tuple, tuple]] = {}


@lru_cache(maxsize=8)
def _inverse_lengths(w: int, h: int, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    x = (np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(fx)
    y = (np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(fy)
    out = np.float32(1.0) / np.sqrt(x[None, :] ** 2 + y[:, None] ** 2 + np.float32(1.0))
    out.flags.writeable = False
    return out


def inverse_ray_lengths(camera: Camera) -> np.ndarray:
    """(H, W) 1 / |d| of `camera_rays`' directions: |d|^2 = x^2 + y^2 + 1 in the camera frame
    whatever the rotation, so the map depends on the intrinsics only (cached, read-only)."""
    k = (camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
    return _inverse_lengths(*(int(v) for v in k[:2]), *(float(v) for v in k[2:]))


def camera_rays(camera: Camera, reuse: bool = False) -> Rays:
    """One ray per pixel through the pixel centre, scaled so that t is the z-depth.

    ``reuse=True`` caches the directions by rotation and intrinsics (shadow-map cameras all look
    straight down: only their origin differs); the cached arrays are read-only.
    """
    if not reuse:
        d, inv = _directions(camera)
    else:
        key = (
            camera.rotation.astype(np.float32).tobytes()
            + np.array(
                [camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy],
                np.float64,
            ).tobytes()
        )
        cached = _FIXED_RAYS.get(key)
        if cached is None:
            if len(_FIXED_RAYS) > 8:
                _FIXED_RAYS.clear()
            cached = _directions(camera)
            for a in (*cached[0], *cached[1]):
                a.flags.writeable = False
            _FIXED_RAYS[key] = cached
        d, inv = cached
    return Rays(camera.position.astype(np.float32), d, inv)  # type: ignore[arg-type]


# The 12 edges of a box as pairs of corner indices (corner i has bits x, y, z = i >> 2, 1, 0).
_EDGES = np.array([(i, i | bit) for i in range(8) for bit in (4, 2, 1) if not i & bit], np.intp)


def screen_rects(camera: Camera, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 3) world corners of bounding boxes -> (N, 4) pixel rectangles (x0, x1, y0, y1)
    and (N,) whether each box lies wholly beyond the near plane.

    A box that crosses the near plane is clipped by it first (its corners in front plus the
    points where its edges cross the plane), so the rectangle stays tight; one wholly behind
    gets an empty rectangle.
    """
    n = len(corners)
    rects = np.zeros((n, 4), dtype=np.int64)
    if n == 0:
        return rects, np.zeros(0, bool)
    pc = camera.world_to_camera(corners.reshape(-1, 3)).reshape(n, 8, 3).astype(np.float64)
    z = pc[..., 2]
    front = z > NEAR
    seen, whole = front.any(1), front.all(1)
    zs = np.where(front, z, 1.0)
    u = camera.fx * pc[..., 0] / zs + camera.cx
    v = camera.fy * pc[..., 1] / zs + camera.cy
    u0, u1, v0, v1 = u.min(1), u.max(1), v.min(1), v.max(1)
    part = np.flatnonzero(seen & ~whole)
    if part.size:
        # Clip at the plane z = NEAR: corners in front plus the points where edges cross it.
        pp = pc[part]
        a, b = pp[:, _EDGES[:, 0]], pp[:, _EDGES[:, 1]]
        za, zb = a[..., 2], b[..., 2]
        cross = (za > NEAR) != (zb > NEAR)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(cross, (NEAR - za) / (zb - za), np.nan)[..., None]
        pts = np.concatenate([np.where(front[part, :, None], pp, np.nan), a + s * (b - a)], 1)
        zp = np.maximum(pts[..., 2], NEAR)  # crossings lie on the plane (rounding aside)
        up = camera.fx * pts[..., 0] / zp + camera.cx
        vp = camera.fy * pts[..., 1] / zp + camera.cy
        u0[part], u1[part] = np.nanmin(up, 1), np.nanmax(up, 1)
        v0[part], v1[part] = np.nanmin(vp, 1), np.nanmax(vp, 1)
    w, h = camera.width, camera.height
    rects[:, 0] = np.clip(np.floor(u0), 0, w)
    rects[:, 1] = np.clip(np.floor(u1) + 2, 0, w)
    rects[:, 2] = np.clip(np.floor(v0), 0, h)
    rects[:, 3] = np.clip(np.floor(v1) + 2, 0, h)
    rects[~seen] = 0
    return rects, whole


def box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 3) min and max corners -> (N, 8, 3) all corners."""
    sel = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=bool)
    return np.where(sel[None], hi[:, None, :], lo[:, None, :]).astype(np.float32)


def primitive_bounds(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounds (lo, hi), each (N, 3), of the boxes, cylinders, spheres in id order."""
    b, c, s = scene.boxes, scene.cylinders, scene.spheres
    lo = [
        b[:, :3],
        np.stack([c[:, 0] - c[:, 2], c[:, 3], c[:, 1] - c[:, 2]], 1),
        s[:, :3] - s[:, 3:],
    ]
    hi = [
        b[:, 3:],
        np.stack([c[:, 0] + c[:, 2], c[:, 4], c[:, 1] + c[:, 2]], 1),
        s[:, :3] + s[:, 3:],
    ]
    return np.concatenate(lo).astype(np.float32), np.concatenate(hi).astype(np.float32)


def intersect_room(rays: Rays, room: np.ndarray) -> Hits:
    """Exit point of every ray from the room box (the camera is inside): always a hit.

    Per axis the exit is the larger of the two wall distances (the other is negative); a ray
    parallel to an axis's walls gets +inf from both (1 / +-0 = +-inf, times walls on both sides).
    """
    o = rays.origin
    best = prim = None
    for axis in range(3):
        inv = rays.inv[axis]
        t = np.maximum((room[axis] - o[axis]) * inv, -o[axis] * inv)
        # face ids: floor 0 / ceiling 1, x=0 2 / x=X 3, z=0 4 / z=Z 5 (the wall at the far end
        # of an axis is met by rays going +, whose d and inv are positive)
        lo_id = {0: 2, 1: 0, 2: 4}[axis]
        face = (inv > 0).view(np.int8) + np.int8(lo_id)
        if best is None:
            best, prim = t, face.astype(np.int32)
        else:
            closer = t < best
            np.minimum(best, t, out=best)
            np.copyto(prim, face, where=closer)
    return Hits(best, prim)  # type: ignore[arg-type]


def _hit_boxes(
    rays: Rays, hits: Hits, boxes: np.ndarray, ids, rects: np.ndarray, in_front: np.ndarray
) -> None:
    """Slab test per box over its screen rectangle. The camera is outside a box's slab on most
    axes: there the sign of the direction of any ray that can enter is known, so the entry and
    exit planes are known too and need no min/max; a box wholly in front of the near plane
    needs no near test."""
    o = rays.origin.astype(np.float64)
    for box, k, (x0, x1, y0, y1), whole in zip(boxes, ids, rects, in_front, strict=True):
        if x0 >= x1 or y0 >= y1:
            continue
        win = np.s_[y0:y1, x0:x1]
        tn = tf = None
        for a in range(3):
            inv = rays.inv[a][win]
            lo, hi = float(box[a]) - o[a], float(box[a + 3]) - o[a]
            if lo > 0 or hi < 0:  # outside the slab: enter through the nearer plane
                near, far = (lo, hi) if lo > 0 else (hi, lo)
                tn_a, tf_a = inv * np.float32(near), inv * np.float32(far)
                tn = tn_a if tn is None else np.maximum(tn, tn_a, out=tn)
                tf = tf_a if tf is None else np.minimum(tf, tf_a, out=tf)
            else:  # inside the slab: the entry here is behind the camera, only the exit counts
                t1, t2 = inv * np.float32(lo), inv * np.float32(hi)
                tf_a = np.maximum(t1, t2, out=t1)
                if tf is None:
                    tf = tf_a
                else:
                    np.minimum(tf, tf_a, out=tf)
        if tn is None:  # the camera is inside the box: nothing to see
            continue
        best = hits.depth[win]
        hit = tn <= tf
        hit &= tn < best
        if not whole:
            hit &= tn > NEAR
        np.copyto(best, tn, where=hit)
        np.copyto(hits.prim[win], np.int32(k), where=hit)


def _hit_cylinders(rays: Rays, hits: Hits, cyls: np.ndarray, ids, rects: np.ndarray) -> None:
    """Vertical cylinders: the side (a quadratic in x, z) and the top cap."""
    o = rays.origin
    for (cx, cz, r, y0, y1), k, (x0, x1, ry0, ry1) in zip(cyls, ids, rects, strict=True):
        if x0 >= x1 or ry0 >= ry1:
            continue
        win = np.s_[ry0:ry1, x0:x1]
        dx, dy, dz = (c[win] for c in rays.d)
        ox, oz = o[0] - cx, o[2] - cz
        a = dx * dx + dz * dz
        b = dx * ox + dz * oz
        c = ox * ox + oz * oz - r * r
        disc = b * b - a * c
        with np.errstate(invalid="ignore", divide="ignore"):
            t_side = (-b - np.sqrt(disc)) / a
            y = o[1] + t_side * dy
            side = (disc >= 0) & (y >= y0) & (y <= y1) & (t_side > NEAR)
            t_cap = (y1 - o[1]) * rays.inv[1][win]
            px, pz = ox + t_cap * dx, oz + t_cap * dz
            cap = (px * px + pz * pz <= r * r) & (t_cap > NEAR)
        t = np.where(side, t_side, np.inf)
        t = np.where(cap & (t_cap < t), t_cap, t)
        best = hits.depth[win]
        hit = t < best
        np.copyto(best, t, where=hit)
        np.copyto(hits.prim[win], np.int32(k), where=hit)


def _hit_spheres(rays: Rays, hits: Hits, spheres: np.ndarray, ids, rects: np.ndarray) -> None:
    o = rays.origin
    for (sx, sy, sz, r), k, (x0, x1, y0, y1) in zip(spheres, ids, rects, strict=True):
        if x0 >= x1 or y0 >= y1:
            continue
        win = np.s_[y0:y1, x0:x1]
        dx, dy, dz = (c[win] for c in rays.d)
        ox, oy, oz = o[0] - sx, o[1] - sy, o[2] - sz
        a = dx * dx + dy * dy + dz * dz
        b = dx * ox + dy * oy + dz * oz
        c = ox * ox + oy * oy + oz * oz - r * r
        disc = b * b - a * c
        with np.errstate(invalid="ignore"):
            t = (-b - np.sqrt(disc)) / a
        best = hits.depth[win]
        hit = (disc >= 0) & (t > NEAR) & (t < best)
        np.copyto(best, t, where=hit)
        np.copyto(hits.prim[win], np.int32(k), where=hit)


def cast(
    camera: Camera,
    scene: Scene,
    *,
    with_room: bool = True,
    only: np.ndarray | None = None,
    reuse_rays: bool = False,
) -> tuple[Rays, Hits]:
    """Nearest hit per pixel of ``camera`` among the room (optional) and the primitives.

    ``only`` is a boolean mask over primitive ids (e.g. the shadow casters) to restrict the test;
    ``reuse_rays`` caches the ray directions (see `camera_rays`).
    """
    rays = camera_rays(camera, reuse=reuse_rays)
    if with_room:
        hits = intersect_room(rays, scene.room)
    else:
        shape = (camera.height, camera.width)
        hits = Hits(np.full(shape, np.inf, np.float32), np.full(shape, NO_HIT, np.int32))
    lo, hi = primitive_bounds(scene)
    if only is None:
        rects, in_front = screen_rects(camera, box_corners(lo, hi))
    else:
        sel = np.flatnonzero(only[6:])
        rects, in_front = np.zeros((len(lo), 4), np.int64), np.zeros(len(lo), bool)
        rects[sel], in_front[sel] = screen_rects(camera, box_corners(lo[sel], hi[sel]))
    nb, nc = len(scene.boxes), len(scene.cylinders)
    _hit_boxes(rays, hits, scene.boxes, scene.box_ids, rects[:nb], in_front[:nb])
    _hit_cylinders(rays, hits, scene.cylinders, scene.cylinder_ids, rects[nb : nb + nc])
    _hit_spheres(rays, hits, scene.spheres, scene.sphere_ids, rects[nb + nc :])
    return rays, hits

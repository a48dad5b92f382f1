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


@lru_cache(maxsize=8)
def _pixel_grid(
    width: int, height: int, fx: float, fy: float, cx: float, cy: float
) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame (x, y) of each pixel centre on the z = 1 plane (pixel i at u = i)."""
    x = (np.arange(width, dtype=np.float32) - np.float32(cx)) / np.float32(fx)
    y = (np.arange(height, dtype=np.float32) - np.float32(cy)) / np.float32(fy)
    xs, ys = np.meshgrid(x, y)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def camera_rays(camera: Camera) -> Rays:
    """One ray per pixel through the pixel centre, scaled so that t is the z-depth."""
    xs, ys = _pixel_grid(camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
    r = camera.rotation.astype(np.float32)
    d = tuple(r[i, 0] * xs + r[i, 1] * ys + r[i, 2] for i in range(3))
    with np.errstate(divide="ignore"):
        inv = tuple(np.float32(1.0) / c for c in d)
    return Rays(camera.position.astype(np.float32), d, inv)  # type: ignore[arg-type]


def screen_rects(camera: Camera, corners: np.ndarray) -> np.ndarray:
    """(N, 8, 3) world corners of bounding boxes -> (N, 4) pixel rectangles (x0, x1, y0, y1).

    A box partly behind the camera gets the whole image (conservative); one wholly behind
    gets an empty rectangle.
    """
    n = len(corners)
    rects = np.zeros((n, 4), dtype=np.int64)
    if n == 0:
        return rects
    pc = camera.world_to_camera(corners.reshape(-1, 3)).reshape(n, 8, 3)
    z = pc[..., 2]
    front = z > NEAR
    zs = np.where(front, z, 1.0)
    u = camera.fx * pc[..., 0] / zs + camera.cx
    v = camera.fy * pc[..., 1] / zs + camera.cy
    w, h = camera.width, camera.height
    rects[:, 0] = np.clip(np.floor(u.min(1)), 0, w)
    rects[:, 1] = np.clip(np.floor(u.max(1)) + 2, 0, w)
    rects[:, 2] = np.clip(np.floor(v.min(1)), 0, h)
    rects[:, 3] = np.clip(np.floor(v.max(1)) + 2, 0, h)
    partly = front.any(1) & ~front.all(1)
    rects[partly] = (0, w, 0, h)
    rects[~front.any(1)] = 0
    return rects


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
    """Exit point of every ray from the room box (the camera is inside): always a hit."""
    o = rays.origin
    best = None
    prim = None
    for axis in range(3):
        d, inv = rays.d[axis], rays.inv[axis]
        t_hi = (room[axis] - o[axis]) * inv  # wall at the far end of this axis
        t_lo = -o[axis] * inv  # wall at 0
        positive = d > 0
        # A ray parallel to this axis's walls (d == 0) never meets them: t = inf, not +-inf * 0.
        t = np.where(positive, t_hi, np.where(d < 0, t_lo, np.float32(np.inf)))
        # face ids: floor 0 / ceiling 1, x=0 2 / x=X 3, z=0 4 / z=Z 5
        lo_id, hi_id = {0: (2, 3), 1: (0, 1), 2: (4, 5)}[axis]
        face = np.where(positive, np.int32(hi_id), np.int32(lo_id))
        if best is None:
            best, prim = t, face
        else:
            closer = t < best
            np.putmask(best, closer, t)
            np.putmask(prim, closer, face)
    return Hits(best.astype(np.float32), prim.astype(np.int32))  # type: ignore[union-attr]


def _hit_boxes(rays: Rays, hits: Hits, boxes: np.ndarray, ids, rects: np.ndarray) -> None:
    o = rays.origin
    for box, k, (x0, x1, y0, y1) in zip(boxes, ids, rects, strict=True):
        if x0 >= x1 or y0 >= y1:
            continue
        win = np.s_[y0:y1, x0:x1]
        tn = tf = None
        for a in range(3):
            inv = rays.inv[a][win]
            t1 = (box[a] - o[a]) * inv
            t2 = (box[a + 3] - o[a]) * inv
            lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
            tn = lo if tn is None else np.maximum(tn, lo, out=tn)
            tf = hi if tf is None else np.minimum(tf, hi, out=tf)
        best = hits.depth[win]
        hit = (tn <= tf) & (tn > NEAR) & (tn < best)
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
    camera: Camera, scene: Scene, *, with_room: bool = True, only: np.ndarray | None = None
) -> tuple[Rays, Hits]:
    """Nearest hit per pixel of ``camera`` among the room (optional) and the primitives.

    ``only`` is a boolean mask over primitive ids (e.g. the shadow casters) to restrict the test.
    """
    rays = camera_rays(camera)
    if with_room:
        hits = intersect_room(rays, scene.room)
    else:
        shape = (camera.height, camera.width)
        hits = Hits(np.full(shape, np.inf, np.float32), np.full(shape, NO_HIT, np.int32))
    lo, hi = primitive_bounds(scene)
    rects = screen_rects(camera, box_corners(lo, hi))
    if only is not None:
        rects[~only[6:]] = 0
    nb, nc = len(scene.boxes), len(scene.cylinders)
    _hit_boxes(rays, hits, scene.boxes, scene.box_ids, rects[:nb])
    _hit_cylinders(rays, hits, scene.cylinders, scene.cylinder_ids, rects[nb : nb + nc])
    _hit_spheres(rays, hits, scene.spheres, scene.sphere_ids, rects[nb + nc :])
    return rays, hits

"""Primary-ray casting against the room and analytic primitives (numba kernels, see `_jit`).

One ray per pixel, with direction ``R @ (x, y, 1)`` in the camera frame: its ray parameter ``t``
is then the z-depth itself (distance along the optical axis, as NYU stores depth), not the ray
length. Primitives are tested one at a time, each only over the pixels inside its projected
screen rectangle (the cheap half of rasterisation), keeping the nearest hit and its primitive id.
The rectangles and per-primitive set-up are NumPy; the loops over pixels are compiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from msdepth.synth._jit import kernel
from msdepth.synth.scene import Camera, Scene

NEAR = 0.05  # metres: hits closer than this to the camera plane are ignored
NO_HIT = -1


@dataclass
class Rays:
    """World-space ray directions of a camera, (3, H, W) float32 each, and their reciprocals."""

    origin: np.ndarray  # (3,) float32
    dirs: np.ndarray  # (3, H, W) float32, C-contiguous
    inv_dirs: np.ndarray  # (3, H, W) float32, 1 / dirs (+-inf where a component is 0)

    @property
    def d(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three direction components, each (H, W)."""
        return self.dirs[0], self.dirs[1], self.dirs[2]


@dataclass
class Hits:
    """The nearest surface per pixel: z-depth (inf where none) and primitive id (-1 where none)."""

    depth: np.ndarray  # (H, W) float32
    prim: np.ndarray  # (H, W) int32


def _directions(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """World directions (3, H, W) and reciprocals: d = x * R[:, 0] + (y * R[:, 1] + R[:, 2])
    with x a row and y a column, so each component is one broadcast add over the image."""
    k = (camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
    x = (np.arange(k[0], dtype=np.float32) - np.float32(k[4])) / np.float32(k[2])
    y = (np.arange(k[1], dtype=np.float32) - np.float32(k[5])) / np.float32(k[3])
    r = camera.rotation.astype(np.float32)
    d = np.empty((3, k[1], k[0]), np.float32)
    for i in range(3):
        np.add((r[i, 0] * x)[None, :], (r[i, 1] * y + r[i, 2])[:, None], out=d[i])
    with np.errstate(divide="ignore"):
        inv = np.float32(1.0) / d
    return d, inv


# Cached ray directions of the shadow-map cameras. They stay writeable (though never written):
# numba compiles a separate kernel for read-only arrays.
_FIXED_RAYS: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


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
    straight down: only their origin differs); the cached arrays must not be written to.
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
            _FIXED_RAYS[key] = cached
        d, inv = cached
    return Rays(camera.position.astype(np.float32), d, inv)


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


@kernel
def _room_kernel(o, room, inv, depth, prim):  # pragma: no cover - compiled
    """Exit of every ray from the room box (the camera is inside): always a hit. Per axis the
    exit is the larger of the two wall distances (the other is negative); a ray parallel to an
    axis's walls gets +inf from both. Face ids: floor 0 / ceiling 1, x=0 2 / x=X 3, z=0 4 /
    z=Z 5 (the far wall of an axis is met by rays going +); ties go to the x, then y axis."""
    lo_ids = (2, 0, 4)
    h, w = depth.shape
    for y in range(h):
        for x in range(w):
            best = np.float32(np.inf)
            face = 0
            for a in range(3):
                i = inv[a, y, x]
                t1 = (room[a] - o[a]) * i
                t2 = (-o[a]) * i
                t = t1 if t1 > t2 else t2
                if a == 0 or t < best:
                    best = t
                    face = lo_ids[a] + (1 if i > 0 else 0)
            depth[y, x] = best
            prim[y, x] = face


@kernel
def _boxes_kernel(o, inv, boxes, ids, rects, whole, depth, prim):  # pragma: no cover
    """Slab test per box over its screen rectangle, keeping the nearer hit. The camera is
    outside a box's slab on most axes: there the sign of the direction of any ray that can
    enter is known, so the entry and exit planes are fixed per box and need no min/max; a box
    wholly in front of the near plane needs no near test."""
    near = np.empty(3, np.float32)
    far = np.empty(3, np.float32)
    outside = np.empty(3, np.bool_)
    for k in range(boxes.shape[0]):
        x0, x1, y0, y1 = rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3]
        if x0 >= x1 or y0 >= y1:
            continue
        n_out = 0
        for a in range(3):
            lo = np.float64(boxes[k, a]) - np.float64(o[a])
            hi = np.float64(boxes[k, a + 3]) - np.float64(o[a])
            outside[a] = lo > 0 or hi < 0
            if outside[a]:  # enter through the nearer plane, leave through the other
                n_out += 1
                near[a], far[a] = (lo, hi) if lo > 0 else (hi, lo)
            else:  # inside the slab: the entry is behind the camera, only the exit counts
                near[a], far[a] = lo, hi
        if n_out == 0:  # the camera is inside the box: nothing to see
            continue
        check_near = not whole[k]
        pid = ids[k]
        for y in range(y0, y1):
            for x in range(x0, x1):
                tn = np.float32(-np.inf)
                tf = np.float32(np.inf)
                for a in range(3):
                    i = inv[a, y, x]
                    t1 = i * near[a]
                    t2 = i * far[a]
                    if outside[a]:
                        tn = max(tn, t1)
                        tf = min(tf, t2)
                    else:
                        tf = min(tf, max(t1, t2))
                if tn <= tf and tn < depth[y, x] and (not check_near or tn > NEAR):
                    depth[y, x] = tn
                    prim[y, x] = pid


@kernel
def _cylinders_kernel(o, d, inv, cyls, ids, rects, depth, prim):  # pragma: no cover
    """Vertical cylinders over their screen rectangles: the side (a quadratic in x, z, nearer
    root) and the top cap."""
    for k in range(cyls.shape[0]):
        x0, x1, y0, y1 = rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3]
        if x0 >= x1 or y0 >= y1:
            continue
        ccx, ccz, r, bottom, top = cyls[k, 0], cyls[k, 1], cyls[k, 2], cyls[k, 3], cyls[k, 4]
        ox, oz = o[0] - ccx, o[2] - ccz
        c = ox * ox + oz * oz - r * r
        r2 = r * r
        pid = ids[k]
        for y in range(y0, y1):
            for x in range(x0, x1):
                dx, dy, dz = d[0, y, x], d[1, y, x], d[2, y, x]
                a = dx * dx + dz * dz
                b = dx * ox + dz * oz
                disc = b * b - a * c
                t = np.float32(np.inf)
                if disc >= 0:
                    ts = (-b - np.sqrt(disc)) / a
                    hy = o[1] + ts * dy
                    if hy >= bottom and hy <= top and ts > NEAR:
                        t = ts
                tc = (top - o[1]) * inv[1, y, x]
                px, pz = ox + tc * dx, oz + tc * dz
                if px * px + pz * pz <= r2 and tc > NEAR and tc < t:
                    t = tc
                if t < depth[y, x]:
                    depth[y, x] = t
                    prim[y, x] = pid


@kernel
def _spheres_kernel(o, d, spheres, ids, rects, depth, prim):  # pragma: no cover - compiled
    """Spheres over their screen rectangles: the nearer root of the ray-sphere quadratic."""
    for k in range(spheres.shape[0]):
        x0, x1, y0, y1 = rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3]
        if x0 >= x1 or y0 >= y1:
            continue
        ox, oy, oz = o[0] - spheres[k, 0], o[1] - spheres[k, 1], o[2] - spheres[k, 2]
        r = spheres[k, 3]
        c = ox * ox + oy * oy + oz * oz - r * r
        pid = ids[k]
        for y in range(y0, y1):
            for x in range(x0, x1):
                dx, dy, dz = d[0, y, x], d[1, y, x], d[2, y, x]
                a = dx * dx + dy * dy + dz * dz
                b = dx * ox + dy * oy + dz * oz
                disc = b * b - a * c
                if disc >= 0:
                    t = (-b - np.sqrt(disc)) / a
                    if t > NEAR and t < depth[y, x]:
                        depth[y, x] = t
                        prim[y, x] = pid


def _f32(a: np.ndarray) -> np.ndarray:
    """C-contiguous float32 (a no-op for arrays that already are): one kernel signature."""
    return np.ascontiguousarray(a, dtype=np.float32)


def _ids(ids: range) -> np.ndarray:
    return np.arange(ids.start, ids.stop, dtype=np.int32)


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
    shape = (camera.height, camera.width)
    if with_room:
        hits = Hits(np.empty(shape, np.float32), np.empty(shape, np.int32))
        _room_kernel(rays.origin, _f32(scene.room), rays.inv_dirs, hits.depth, hits.prim)
    else:
        hits = Hits(np.full(shape, np.inf, np.float32), np.full(shape, NO_HIT, np.int32))
    lo, hi = primitive_bounds(scene)
    if only is None:
        rects, in_front = screen_rects(camera, box_corners(lo, hi))
    else:
        sel = np.flatnonzero(only[6:])
        rects, in_front = np.zeros((len(lo), 4), np.int64), np.zeros(len(lo), bool)
        rects[sel], in_front[sel] = screen_rects(camera, box_corners(lo[sel], hi[sel]))
    nb, nc = len(scene.boxes), len(scene.cylinders)
    o, d, inv = rays.origin, rays.dirs, rays.inv_dirs
    box_rects, cyl_rects = rects[:nb], np.ascontiguousarray(rects[nb : nb + nc])
    args = (_ids(scene.box_ids), box_rects, in_front[:nb], hits.depth, hits.prim)
    _boxes_kernel(o, inv, _f32(scene.boxes), *args)
    args = (_ids(scene.cylinder_ids), cyl_rects, hits.depth, hits.prim)
    _cylinders_kernel(o, d, inv, _f32(scene.cylinders), *args)
    args = (_ids(scene.sphere_ids), np.ascontiguousarray(rects[nb + nc :]), hits.depth, hits.prim)
    _spheres_kernel(o, d, _f32(scene.spheres), *args)
    return rays, hits

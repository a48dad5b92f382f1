"""Lighting: Lambertian point lights with cast shadows, a hemispherical ambient term, gloss.

Shadows use one small shadow map per light: the light looks straight down (lights hang under
the ceiling), the shadow casters are ray cast from it at low resolution, and each pixel compares
its drop below the light with the map. That costs a few operations per pixel instead of a shadow
ray against every primitive.
"""

from __future__ import annotations

import numpy as np

from msdepth.synth.raycast import NEAR, cast
from msdepth.synth.scene import Camera, Light, Scene
from msdepth.synth.surface import Surface
from msdepth.synth.textures import MaterialTable

SHADOW_MAP_SIZE = 128
SHADOW_MAP_TAN = 2.5  # the map covers directions up to atan(2.5) = 68 degrees from straight down
_LOOK_DOWN = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], np.float32)  # cam x=+x, y=+z, z=-y


def shadow_map(light: Light, scene: Scene) -> tuple[Camera, np.ndarray]:
    """The drop below ``light`` to the first shadow caster in each direction (inf: none)."""
    f = SHADOW_MAP_SIZE / 2 / SHADOW_MAP_TAN
    c = (SHADOW_MAP_SIZE - 1) / 2
    cam = Camera(light.position, _LOOK_DOWN, f, f, c, c, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE)
    nb = len(scene.boxes)
    casters = scene.casts_shadow.copy()
    boxes = scene.boxes[casters[6 : 6 + nb]]
    # Boxes wholly below the light (nearly all casters) take the separable path below; the
    # rest (pillars up to the ceiling, balls, foliage) the general ray cast.
    below = boxes[:, 4] < np.float32(light.position[1] - NEAR)
    casters[6 : 6 + nb][casters[6 : 6 + nb]] = ~below
    if casters.any():
        _, hits = cast(cam, scene, with_room=False, only=casters, reuse_rays=True)
        drops = hits.depth
    else:
        drops = np.full((SHADOW_MAP_SIZE, SHADOW_MAP_SIZE), np.inf, np.float32)
    _drop_to_boxes(drops, boxes[below], cam)
    return cam, drops


def _slab(lo: np.ndarray, hi: np.ndarray, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit ray parameters (N, K) of N slabs ``lo..hi`` (relative to the ray origin)
    for K rays with reciprocal directions ``inv``; entry -inf where the origin is inside."""
    t1, t2 = lo[:, None] * inv, hi[:, None] * inv
    inside = (lo <= 0) & (hi >= 0)
    near = np.where(inside[:, None], -np.inf, np.where((lo > 0)[:, None], t1, t2))
    far = np.where(inside[:, None], np.maximum(t1, t2), np.where((lo > 0)[:, None], t2, t1))
    return near, far


def _drop_to_boxes(drops: np.ndarray, boxes: np.ndarray, cam: Camera) -> None:
    """Ray cast boxes wholly below a light into its looking-down shadow map, in place.

    Looking straight down, a ray's x direction depends on its column only and its z direction
    on its row only (and y is -1, so t is the drop): a box's slab test splits into one test per
    column and one per row, done for all boxes at once; per box only two broadcast passes over
    its exact screen rectangle remain.
    """
    if len(boxes) == 0:
        return
    n = SHADOW_MAP_SIZE
    with np.errstate(divide="ignore"):
        inv = np.float32(cam.fx) / (np.arange(n, dtype=np.float32) - np.float32(cam.cx))
    lx, ly, lz = (np.float32(v) for v in cam.position)
    near_y, far_y = ly - boxes[:, 4], ly - boxes[:, 1]  # enter through the top
    nx, fx = _slab(boxes[:, 0] - lx, boxes[:, 3] - lx, inv)  # per column
    nz, fz = _slab(boxes[:, 2] - lz, boxes[:, 5] - lz, inv)  # per row
    np.maximum(nx, near_y[:, None], out=nx)
    np.minimum(fx, far_y[:, None], out=fx)
    cols, rows = nx <= fx, nz <= fz
    seen = cols.any(1) & rows.any(1)
    c0, c1 = cols.argmax(1), n - cols[:, ::-1].argmax(1)
    r0, r1 = rows.argmax(1), n - rows[:, ::-1].argmax(1)
    nx, fx = nx.astype(np.float32)[:, None, :], fx.astype(np.float32)[:, None, :]
    nz, fz = nz.astype(np.float32)[:, :, None], fz.astype(np.float32)[:, :, None]
    rects = np.stack([c0, c1, r0, r1], 1)[seen].tolist()
    for k, (a0, a1, b0, b1) in zip(np.flatnonzero(seen).tolist(), rects, strict=True):
        tn = np.maximum(nx[k, :, a0:a1], nz[k, b0:b1])
        tf = np.minimum(fx[k, :, a0:a1], fz[k, b0:b1])
        np.copyto(tn, np.float32(np.inf), where=tn > tf)
        win = drops[b0:b1, a0:a1]
        np.minimum(win, tn, out=win)


def light_visibility(points: np.ndarray, cam: Camera, drops: np.ndarray) -> np.ndarray:
    """(3, P) points -> (P,) 1.0 where the light at ``cam.position`` sees them, else 0.0."""
    lx, ly, lz = (np.float32(c) for c in cam.position)
    n = drops.shape[0]
    drop = ly - points[1]
    below = drop > np.float32(0.01)
    inv = np.float32(cam.fx) / np.maximum(drop, np.float32(0.01))
    fu = points[0] - lx
    fu *= inv
    fu += np.float32(cam.cx + 0.5)  # + 0.5 and truncation: nearest map pixel, for fu >= 0
    fv = points[2] - lz
    fv *= inv
    fv += np.float32(cam.cy + 0.5)
    inside = below & (fu >= 0) & (fu < n) & (fv >= 0) & (fv < n)
    flat = fv.astype(np.intp)
    flat *= n
    flat += fu.astype(np.intp)
    # pixels outside the map read some clipped entry and are lit by ``~inside`` below
    occluder = np.take(drops.reshape(-1), flat, mode="clip")
    occluder *= np.float32(1.01)
    occluder += np.float32(0.03)
    lit = drop <= occluder
    lit |= ~inside
    return lit.astype(np.float32)


def _soften(vis: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """3x3 box blur of a per-pixel map: softer shadow edges (a stand-in for area lights)."""
    img = vis.reshape(hw)
    rows = img * np.float32(1 / 3)
    rows[1:] += img[:-1] * np.float32(1 / 3)
    rows[:-1] += img[1:] * np.float32(1 / 3)
    rows[0] += img[0] * np.float32(1 / 3)
    rows[-1] += img[-1] * np.float32(1 / 3)
    out = rows * np.float32(1 / 3)
    out[:, 1:] += rows[:, :-1] * np.float32(1 / 3)
    out[:, :-1] += rows[:, 1:] * np.float32(1 / 3)
    out[:, 0] += rows[:, 0] * np.float32(1 / 3)
    out[:, -1] += rows[:, -1] * np.float32(1 / 3)
    return out.reshape(-1)


def _half(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(..., H*W) per-pixel values -> (..., ceil(H/2) * ceil(W/2)): every other pixel and row."""
    lead = a.shape[:-1]
    return np.ascontiguousarray(a.reshape(*lead, *hw)[..., ::2, ::2]).reshape(*lead, -1)


def _double(a: np.ndarray, half_hw: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    """Inverse of `_half` by pixel repetition, cropped to ``hw``."""
    lead = a.shape[:-1]
    img = a.reshape(*lead, *half_hw)
    big = np.repeat(np.repeat(img, 2, axis=-2), 2, axis=-1)[..., : hw[0], : hw[1]]
    return np.ascontiguousarray(big).reshape(*lead, -1)


def shade(
    surface: Surface,
    albedo: np.ndarray,
    table: MaterialTable,
    scene: Scene,
    hw: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Linear radiance (3, P) of every pixel, and the specular highlight strength at half
    resolution ((ceil(H/2) * ceil(W/2),): every other pixel and row, see `_half`).

    Lighting varies slowly across a surface, so it is computed on every other pixel and row
    (a quarter of the work) and repeated; texture detail stays at full resolution. Lighting
    (highlights included) then bleeds by at most one pixel across silhouettes, below the
    camera's own blur.
    """
    half_hw = ((hw[0] + 1) // 2, (hw[1] + 1) // 2)
    sparse = Surface(
        _half(surface.point, hw), _half(surface.normal, hw), None, _half(surface.prim, hw)
    )
    irradiance, highlight = _light(sparse, table, scene, half_hw)
    gloss = highlight * np.take(table.specular, sparse.prim)
    if hw[0] % 2 == 0 and hw[1] % 2 == 0:  # repeat by broadcasting, inside the product
        (h2, w2) = half_hw
        radiance = np.multiply(albedo.reshape(3, h2, 2, w2, 2), irradiance.reshape(3, h2, 1, w2, 1))
        radiance += gloss.reshape(h2, 1, w2, 1)
        radiance = radiance.reshape(3, -1)
    else:
        radiance = albedo * _double(irradiance, half_hw, hw)
        radiance += _double(gloss, half_hw, hw)
    return radiance, highlight


def _light(
    surface: Surface, table: MaterialTable, scene: Scene, hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Irradiance (3, P) and specular highlight strength (P,) at the surface points."""
    p, n = surface.point, surface.normal
    # Ambient from all around, a little stronger from the ceiling side.
    sky = np.float32(scene.ambient) * (np.float32(0.8) + np.float32(0.2) * n[1])
    irradiance = np.stack([sky, sky, sky])
    highlight = np.zeros(p.shape[1], np.float32)
    glossy = np.flatnonzero(np.take(table.specular, surface.prim) > 0)
    if glossy.size:
        # Blinn-Phong on glossy pixels only: the direction to the eye, once for all lights.
        pg, ng = p[:, glossy], n[:, glossy]
        ex, ey, ez = (np.float32(scene.camera.position[i]) - pg[i] for i in range(3))
        inv_e = np.float32(1.0) / np.sqrt(ex * ex + ey * ey + ez * ez)
        ex *= inv_e
        ey *= inv_e
        ez *= inv_e
    for light in scene.lights:
        lx, ly, lz = (light.position[i] - p[i] for i in range(3))
        d2 = np.maximum(lx * lx + ly * ly + lz * lz, np.float32(0.05))
        inv_d = np.float32(1.0) / np.sqrt(d2)
        cos = (n[0] * lx + n[1] * ly + n[2] * lz) * inv_d
        cam, drops = shadow_map(light, scene)
        vis = _soften(light_visibility(p, cam, drops), hw)
        np.maximum(cos, np.float32(0.0), out=cos)
        cos *= vis
        cos /= d2
        for c in range(3):
            irradiance[c] += cos * light.intensity[c]
        if glossy.size:
            # half vector between light and eye directions, (n.h)^24: a broad, plastic-like
            # highlight (floored at 0.02 against denormals)
            ig = np.take(inv_d, glossy)
            hx = np.take(lx, glossy)
            hx *= ig
            hx += ex
            hy = np.take(ly, glossy)
            hy *= ig
            hy += ey
            hz = np.take(lz, glossy)
            hz *= ig
            hz += ez
            nh = ng[0] * hx + ng[1] * hy + ng[2] * hz
            hh = hx * hx + hy * hy + hz * hz
            np.sqrt(hh, out=hh)
            hh += np.float32(1e-6)
            nh /= hh
            np.maximum(nh, np.float32(0.02), out=nh)
            nh *= nh
            nh *= nh
            nh *= nh  # (n.h)^8 ...
            nh = nh * nh * nh  # ... ^24
            nh *= np.take(vis, glossy)
            nh *= np.float32(light.intensity.mean())
            nh /= np.take(d2, glossy)
            highlight[glossy] += nh
    return irradiance, highlight

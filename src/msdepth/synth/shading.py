"""Lighting: Lambertian point lights with cast shadows, a hemispherical ambient term, gloss.

Shadows use one small shadow map per light: the light looks straight down (lights hang under
the ceiling), the shadow casters are ray cast from it at low resolution, and each pixel compares
its drop below the light with the map. That costs a few operations per pixel instead of a shadow
ray against every primitive.
"""

from __future__ import annotations

import numpy as np

from msdepth.synth._jit import kernel
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
    _drop_kernel(
        drops,
        np.ascontiguousarray(boxes[below], np.float32),
        cam.position.astype(np.float32),
        np.float32(cam.fx),
        np.float32(cam.cx),
    )
    return cam, drops


@kernel
def _drop_kernel(drops, boxes, light, f, c):  # pragma: no cover - compiled
    """Ray cast boxes wholly below a light into its looking-down shadow map, in place.

    Looking straight down, a ray's x direction depends on its column only and its z direction
    on its row only (and y is -1, so t is the drop): a box's slab test splits into one test per
    column and one per row; per pixel of the map only a max, a min and a compare remain.
    """
    n = drops.shape[0]
    inv = np.empty(n, np.float32)
    for i in range(n):
        inv[i] = f / (np.float32(i) - c)  # +-inf on the centre line (error_model numpy)
    near_x, far_x = np.empty(n, np.float32), np.empty(n, np.float32)
    near_z, far_z = np.empty(n, np.float32), np.empty(n, np.float32)
    for k in range(boxes.shape[0]):
        top, bottom = light[1] - boxes[k, 4], light[1] - boxes[k, 1]  # enter through the top
        _slab(boxes[k, 0] - light[0], boxes[k, 3] - light[0], inv, near_x, far_x)
        _slab(boxes[k, 2] - light[2], boxes[k, 5] - light[2], inv, near_z, far_z)
        for i in range(n):
            near_x[i] = max(near_x[i], top)
            far_x[i] = min(far_x[i], bottom)
        for row in range(n):
            if near_z[row] > far_z[row]:
                continue
            for col in range(n):
                tn = max(near_x[col], near_z[row])
                if tn <= min(far_x[col], far_z[row]) and tn < drops[row, col]:
                    drops[row, col] = tn


@kernel
def _slab(lo, hi, inv, near, far):  # pragma: no cover - compiled
    """Entry and exit ray parameters of the slab ``lo..hi`` (relative to the ray origin) for
    rays with reciprocal directions ``inv``; entry -inf where the origin is inside."""
    inside, ahead = lo <= 0 and hi >= 0, lo > 0
    for i in range(inv.size):
        t1, t2 = lo * inv[i], hi * inv[i]
        if inside:
            near[i], far[i] = -np.inf, max(t1, t2)
        elif ahead:
            near[i], far[i] = t1, t2
        else:
            near[i], far[i] = t2, t1


@kernel
def _visibility(points, light, f, c, drops, out):  # pragma: no cover - compiled
    """(3, P) points -> ``out`` (P,): 1 where the light at ``light`` (its shadow map: focal
    length ``f``, centre ``c``, drop to the first caster per pixel) sees them, else 0."""
    n = drops.shape[0]
    lim = np.float32(0.01)
    half = c + np.float32(0.5)  # + 0.5 and truncation: the nearest map pixel
    for i in range(points.shape[1]):
        drop = light[1] - points[1, i]
        inv = f / max(drop, lim)
        fu = (points[0, i] - light[0]) * inv + half
        fv = (points[2, i] - light[2]) * inv + half
        lit = True
        if drop > lim and fu >= 0 and fu < n and fv >= 0 and fv < n:
            occluder = drops[int(fv), int(fu)] * np.float32(1.01) + np.float32(0.03)
            lit = drop <= occluder
        out[i] = np.float32(1.0) if lit else np.float32(0.0)


@kernel
def _soften(vis, tmp):  # pragma: no cover - compiled
    """3x3 box blur of an (H, W) map in place (edges repeated), ``tmp`` an (H, W) scratch:
    softer shadow edges, a stand-in for area lights."""
    h, w = vis.shape
    third = np.float32(1 / 3)
    for y in range(h):
        up, down = max(y - 1, 0), min(y + 1, h - 1)
        for x in range(w):
            tmp[y, x] = vis[y, x] * third + vis[up, x] * third + vis[down, x] * third
    for y in range(h):
        for x in range(w):
            left, right = max(x - 1, 0), min(x + 1, w - 1)
            vis[y, x] = tmp[y, x] * third + tmp[y, left] * third + tmp[y, right] * third


@kernel
def _add_lamp(p, n, spec, eye, light, intensity, vis, irradiance, highlight):  # pragma: no cover
    """Add one point light's Lambertian irradiance (3, P) and Blinn-Phong highlight (P,) at the
    surface points ``p`` with normals ``n``, shadowed by ``vis`` (P,); highlights only where the
    material is glossy (``spec`` > 0)."""
    mean = (intensity[0] + intensity[1] + intensity[2]) / np.float32(3)
    for i in range(p.shape[1]):
        lx, ly, lz = light[0] - p[0, i], light[1] - p[1, i], light[2] - p[2, i]
        d2 = max(lx * lx + ly * ly + lz * lz, np.float32(0.05))
        inv_d = np.float32(1.0) / np.sqrt(d2)
        cos = (n[0, i] * lx + n[1, i] * ly + n[2, i] * lz) * inv_d
        cos = max(cos, np.float32(0.0)) * vis[i] / d2
        for ch in range(3):
            irradiance[ch, i] += cos * intensity[ch]
        if spec[i] > 0:
            # half vector between light and eye directions, (n.h)^24: a broad, plastic-like
            # highlight (floored at 0.02 against denormals)
            ex, ey, ez = eye[0] - p[0, i], eye[1] - p[1, i], eye[2] - p[2, i]
            inv_e = np.float32(1.0) / np.sqrt(ex * ex + ey * ey + ez * ez)
            hx, hy, hz = lx * inv_d + ex * inv_e, ly * inv_d + ey * inv_e, lz * inv_d + ez * inv_e
            nh = (n[0, i] * hx + n[1, i] * hy + n[2, i] * hz) / (
                np.sqrt(hx * hx + hy * hy + hz * hz) + np.float32(1e-6)
            )
            nh = max(nh, np.float32(0.02))
            nh *= nh
            nh *= nh
            nh *= nh  # (n.h)^8 ...
            nh = nh * nh * nh  # ... ^24
            highlight[i] += nh * vis[i] * mean / d2


@kernel
def _compose(albedo, irradiance, gloss, radiance):  # pragma: no cover - compiled
    """Radiance (3, H, W) = albedo (3, H, W) x irradiance + gloss, the lighting at half
    resolution ((3, h, w) and (h, w), h = ceil(H/2)) repeated over 2 x 2 pixels."""
    _, hh, ww = radiance.shape
    for ch in range(3):
        for y in range(hh):
            for x in range(ww):
                radiance[ch, y, x] = (
                    albedo[ch, y, x] * irradiance[ch, y >> 1, x >> 1] + gloss[y >> 1, x >> 1]
                )


def _half(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(..., H*W) per-pixel values -> (..., ceil(H/2) * ceil(W/2)): every other pixel and row."""
    lead = a.shape[:-1]
    return np.ascontiguousarray(a.reshape(*lead, *hw)[..., ::2, ::2]).reshape(*lead, -1)


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
    radiance = np.empty((3, *hw), np.float32)
    _compose(
        np.ascontiguousarray(albedo, np.float32).reshape(3, *hw),
        irradiance.reshape(3, *half_hw),
        gloss.reshape(half_hw),
        radiance,
    )
    return radiance.reshape(3, -1), highlight


def _light(
    surface: Surface, table: MaterialTable, scene: Scene, hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Irradiance (3, P) and specular highlight strength (P,) at the surface points."""
    p = np.ascontiguousarray(surface.point, np.float32)
    n = np.ascontiguousarray(surface.normal, np.float32)
    # Ambient from all around, a little stronger from the ceiling side.
    sky = np.float32(scene.ambient) * (np.float32(0.8) + np.float32(0.2) * n[1])
    irradiance = np.stack([sky, sky, sky])
    highlight = np.zeros(p.shape[1], np.float32)
    spec = np.take(table.specular.astype(np.float32), surface.prim)
    eye = scene.camera.position.astype(np.float32)
    vis, tmp = np.empty(hw, np.float32), np.empty(hw, np.float32)
    for light in scene.lights:
        cam, drops = shadow_map(light, scene)
        lpos = cam.position.astype(np.float32)
        _visibility(p, lpos, np.float32(cam.fx), np.float32(cam.cx), drops, vis.reshape(-1))
        _soften(vis, tmp)
        intensity = np.asarray(light.intensity, np.float32)
        _add_lamp(p, n, spec, eye, lpos, intensity, vis.reshape(-1), irradiance, highlight)
    return irradiance, highlight

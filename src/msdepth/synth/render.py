"""One synthetic RGB-D frame: scene -> ray cast -> surface -> texture -> shading -> sensor.

Every frame is a pure function of (seed, split, index): its generator is
``np.random.default_rng([seed, split code, index])``, so a dataset is identical bit for bit
whatever the batch size, the worker count or the number of frames in the other split. A field
of view drawn from a range (``fov=(lo, hi)``) comes from a generator of its own
(`frame_fov`), so frames at the Kinect's default camera are the same as without it.
"""

from __future__ import annotations

import numpy as np

from msdepth.allocator import keep_freed_memory
from msdepth.synth.layout import random_scene
from msdepth.synth.raycast import Rays, cast, inverse_ray_lengths
from msdepth.synth.scene import EMISSIVE, Camera, Scene
from msdepth.synth.sensor import CameraSettings, camera_image, clean_depth, kinect_depth
from msdepth.synth.shading import shade
from msdepth.synth.surface import Surface, surface_at
from msdepth.synth.textures import MaterialTable, albedo

SPLIT_CODES = {"train": 0, "test": 1}
FovSpec = float | tuple[float, float] | None  # degrees: fixed, uniform in [lo, hi], or Kinect
EMISSION = 3.0  # lamps and windows: brighter than any lit wall, so they saturate like in NYU


def frame_key(seed: int, split: str, index: int) -> list[int]:
    """The seed of one frame's generator: (seed, split code, index)."""
    code = SPLIT_CODES.get(split)
    if code is None:
        code = 2 + sum(split.encode()) * 1009 + len(split)  # any other split name, stable
    return [int(seed), code, int(index)]


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one frame; the split keeps test frames independent of the train count."""
    return np.random.default_rng(frame_key(seed, split, index))


def frame_fov(seed: int, split: str, index: int, fov: FovSpec) -> float | None:
    """The horizontal field of view (degrees) of one frame: ``fov`` itself when fixed, a
    uniform draw in ``fov = (lo, hi)`` by the frame's own generator, None for the Kinect."""
    if fov is None or isinstance(fov, (int, float)):
        return None if fov is None else float(fov)
    lo, hi = fov
    return float(np.random.default_rng([*frame_key(seed, split, index), 1]).uniform(lo, hi))


def render_scene(
    scene: Scene,
    rng: np.random.Generator,
    sensor: bool = True,
    camera_settings: CameraSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image and (H, W) float32 z-depth in metres (0 = no reading).

    ``sensor=False`` returns exact depth (only the 0.5-10 m range applied) instead of the
    Kinect-like one; the image always goes through the camera model, with ``camera_settings``
    when given (the frames of one video), else settings drawn from ``rng``.
    """
    cam = scene.camera
    hw = (cam.height, cam.width)
    rays, hits = cast(cam, scene)
    surf = surface_at(rays, hits, scene)
    table = MaterialTable.of(scene.materials)
    base = albedo(surf.uv, surf.prim, table)
    radiance, highlight = shade(surf, base, table, scene, hw)
    lamp = np.take(table.kind, surf.prim) == EMISSIVE
    if lamp.any():
        np.copyto(radiance, base * np.float32(EMISSION), where=lamp)
    rgb = camera_image(radiance.reshape(3, *hw), rng, camera_settings)
    if not sensor:
        return rgb, clean_depth(hits.depth)
    grazing, lum = depth_sensor_inputs(surf, rays, base, lamp, cam)
    half_hw = ((hw[0] + 1) // 2, (hw[1] + 1) // 2)
    depth = kinect_depth(
        hits.depth, grazing.reshape(hw), lum.reshape(hw), highlight.reshape(half_hw), rng
    )
    return rgb, depth


def depth_sensor_inputs(
    surf: Surface, rays: Rays, base: np.ndarray, lamp: np.ndarray, cam: Camera
) -> tuple[np.ndarray, np.ndarray]:
    """What the Kinect model reads besides depth: |cos| of the viewing angle per pixel (P,) and
    the albedo's luminance (P,), 1 on lamps (they blind the sensor)."""
    n, (dx, dy, dz) = surf.normal, (c.reshape(-1) for c in rays.d)
    grazing = n[0] * dx
    grazing += n[1] * dy
    grazing += n[2] * dz
    np.abs(grazing, out=grazing)
    grazing *= inverse_ray_lengths(cam).reshape(-1)
    lum = 0.2126 * base[0] + 0.7152 * base[1] + 0.0722 * base[2]
    lum[lamp] = 1.0
    return grazing, lum


def render_sample(
    seed: int,
    split: str,
    index: int,
    size: tuple[int, int] = (320, 240),
    sensor: bool = True,
    fov: FovSpec = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` of ``split`` for ``seed``: a random room rendered at ``size`` = (W, H),
    with the Kinect's intrinsics or the horizontal field of view of `frame_fov`."""
    keep_freed_memory()
    rng = frame_rng(seed, split, index)
    scene = random_scene(rng, size, fov=frame_fov(seed, split, index, fov))
    return render_scene(scene, rng, sensor)

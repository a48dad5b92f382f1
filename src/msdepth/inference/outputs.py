"""The files `msdepth predict` writes for each input, named ``NAME.<ext>`` after the input.

| ``--save`` | file | content |
|---|---|---|
| ``color`` | ``NAME.color.png`` | depth through the magma colormap, near = bright/warm (+ colour bar) |
| ``png16`` | ``NAME.depth.png`` | uint16 millimetres; 0 = invalid or beyond 65.535 m; text chunk ``msdepth`` |
| ``npy`` | ``NAME.npy`` | float32 metres, (H, W) |
| ``json`` | ``NAME.json`` | what the depth is: unit, model, focal and its source, K, alignment, stats |
| ``npz`` | ``NAME.npz`` | ``depth`` float32 metres, ``K`` 3x3, ``metadata`` (the JSON text) |
| ``panel`` | ``NAME.panel.png`` | the input and the colour depth side by side |
| ``ply`` | ``NAME.ply`` | point cloud coloured by the input, flying pixels left out (see `pointcloud`) |
| ``mesh`` | ``NAME.mesh.ply`` | triangle mesh, cut at depth discontinuities |
| ``glb`` | ``NAME.glb`` | the same mesh as binary glTF (needs trimesh: ``pip install 'msdepth[mesh]'``) |
| ``video`` | ``NAME.depth.mp4`` | videos only: the clip's colour depth as a video (see `video`) |

The PNG chunk, the JSON and the npz metadata are one dict (`Prediction.metadata`), so every
file says what it holds. This is the one place per-image output files are made (``predict``,
the app, and each frame of a video: `video` calls it per frame, ``NAME_f000123.<ext>``); only
the clip's ``NAME.depth.mp4`` is written by `video` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from msdepth.errors import DataError
from msdepth.fileio import atomic_path, ensure_folder
from msdepth.inference.camera import DepthCamera, Intrinsics
from msdepth.inference.pointcloud import save_mesh_ply, save_ply, to_mesh, to_point_cloud
from msdepth.inference.result import Prediction
from msdepth.visualize import colorize_depth, make_panel, save_png

OUTPUT_KINDS = ("color", "png16", "npy", "json", "npz", "panel", "ply", "mesh", "glb", "video")
DEFAULT_KINDS = ("color", "npy", "json")
FRAME_KINDS = tuple(k for k in OUTPUT_KINDS if k != "video")  # what one image or frame gets
SUFFIXES = {
    "color": ".color.png",
    "png16": ".depth.png",
    "npy": ".npy",
    "json": ".json",
    "npz": ".npz",
    "panel": ".panel.png",
    "ply": ".ply",
    "mesh": ".mesh.ply",
    "glb": ".glb",
    "video": ".depth.mp4",  # one per clip, written by `msdepth.inference.video`
}
PNG16_MAX_METRES = 65.535
PNG_TEXT_KEY = "msdepth"  # tEXt/iTXt chunk holding `Prediction.metadata` as JSON
MESH_EXTRA_HINT = "--save glb needs trimesh: pip install 'msdepth[mesh]' (or use --save mesh)"


@dataclass
class OutputOptions:
    """What to write and how (the ``predict`` flags)."""

    kinds: tuple[str, ...] = DEFAULT_KINDS
    colorbar: bool = False
    vmin: float | None = None
    vmax: float | None = None
    ply_ascii: bool = False
    max_depth: float | None = None  # points farther than this are left out of the PLY/mesh
    keep_edges: bool = False  # keep flying pixels in PLY and faces across discontinuities

    def check(self) -> OutputOptions:
        """Self, or a one-line `DataError` for an output this installation cannot write."""
        if "glb" in self.kinds:
            try:
                import trimesh  # noqa: F401  (optional extra)
            except ImportError:
                raise DataError(MESH_EXTRA_HINT) from None
        return self


def as_prediction(depth: np.ndarray | Prediction) -> Prediction:
    """A bare depth map as a `Prediction` of NYU's Kinect scaled to it (an unknown camera)."""
    if isinstance(depth, Prediction):
        return depth
    depth = np.asarray(depth, dtype=np.float32)
    h, w = depth.shape
    camera = DepthCamera(Intrinsics.nyu_kinect(w, h), "assumed: NYU Kinect", 1.0, False)
    return Prediction(depth, camera)


def depth_to_png16(depth: np.ndarray) -> np.ndarray:
    """float metres -> uint16 millimetres, 0 where invalid (not finite, <= 0) or over 65.535 m."""
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0) & (depth <= PNG16_MAX_METRES)
    mm = np.zeros(depth.shape, dtype=np.uint16)
    mm[valid] = np.round(depth[valid] * 1000.0).astype(np.uint16)
    return mm


def color_depth_image(
    depth: np.ndarray, colorbar: bool = False, vmin: float | None = None, vmax: float | None = None
) -> np.ndarray:
    """Colour-mapped depth (H, W, 3) uint8; with ``colorbar`` a labelled bar in metres is added
    on the right (the image grows wider, its depth pixels are unchanged)."""
    valid = np.isfinite(depth) & (depth > 0)
    values = depth[valid]
    lo = float(np.percentile(values, 2)) if vmin is None and values.size else vmin
    hi = float(np.percentile(values, 98)) if vmax is None and values.size else vmax
    image = colorize_depth(depth, vmin=lo, vmax=hi)
    if not colorbar or lo is None or hi is None:
        return image
    return np.concatenate([image, _colorbar(image.shape[0], lo, max(hi, lo * 1.001))], axis=1)


def _colorbar(height: int, vmin: float, vmax: float, width: int = 90) -> np.ndarray:
    """A vertical bar matching `colorize_depth` (inverse-depth spacing), ticks in metres."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    dpi = 100
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    try:
        ax = fig.add_axes((0.08, 0.05, 0.22, 0.9))
        column = np.linspace(vmin, vmax, 256, dtype=np.float32)[:, None].repeat(2, axis=1)
        ax.imshow(
            colorize_depth(column, vmin=vmin, vmax=vmax),
            aspect="auto",
            extent=(0, 1, vmax, vmin),
        )
        ax.set_xticks([])
        ax.yaxis.tick_right()
        ax.yaxis.set_label_position("right")
        ax.set_ylabel("depth (m)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(vmax, vmin)
        fig.canvas.draw()
        bar = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)
    if bar.shape[0] != height:
        bar = np.asarray(Image.fromarray(bar).resize((bar.shape[1], height), Image.BILINEAR))
    return bar


def write_outputs(
    out_dir: Path,
    name: str,
    rgb: np.ndarray,
    depth: np.ndarray | Prediction,
    options: OutputOptions,
    protect: set[Path] | None = None,
) -> list[Path]:
    """Write every requested output for one prediction; returns the files written.

    ``depth``: a `Prediction` (its K shapes point clouds and meshes, its metadata goes into
    the PNG chunk, JSON and npz), or a bare float32 map (then NYU's Kinect is assumed).
    ``protect``: resolved paths never to overwrite (the inputs), a `DataError` instead.
    Each file is written under a temporary name and renamed into place, so an existing file of
    the same name is never left half-written.
    """
    ensure_folder(out_dir)
    prediction = as_prediction(depth)
    depth = np.asarray(prediction.depth, dtype=np.float32)
    k = prediction.intrinsics
    # "video" is a clip's output, not a frame's (`msdepth.inference.video`)
    paths = {
        kind: out_dir / f"{name}{SUFFIXES[kind]}" for kind in options.kinds if kind in FRAME_KINDS
    }
    meta = {
        **prediction.metadata(),
        "name": name,
        "files": {kind: path.name for kind, path in paths.items()},
        **({"keep_edges": options.keep_edges} if {"ply", "mesh", "glb"} & set(paths) else {}),
    }
    text = json.dumps(meta, indent=2, default=float)
    written: list[Path] = []
    color = None
    mask = None if options.max_depth is None else depth <= options.max_depth
    for kind, path in paths.items():
        if protect and path.resolve() in protect:
            raise DataError(f"output {path} would overwrite an input; choose another --out")
        with atomic_path(path) as tmp:
            if kind == "npy":
                np.save(tmp, depth)
            elif kind == "png16":
                info = PngImagePlugin.PngInfo()
                info.add_itxt(PNG_TEXT_KEY, text)
                Image.fromarray(depth_to_png16(depth)).save(tmp, format="PNG", pnginfo=info)
            elif kind == "json":
                Path(tmp).write_text(text + "\n", encoding="utf-8")
            elif kind == "npz":
                with open(tmp, "wb") as f:  # np.savez would add ".npz" to a temporary name
                    np.savez_compressed(f, depth=depth, K=prediction.K, metadata=np.array(text))
            elif kind in ("color", "panel"):
                if color is None:
                    color = color_depth_image(depth, options.colorbar, options.vmin, options.vmax)
                save_png(tmp, color if kind == "color" else make_panel([rgb, color]))
            elif kind == "ply":
                points, colors = to_point_cloud(depth, rgb, k, mask, options.keep_edges)
                save_ply(tmp, points, colors, binary=not options.ply_ascii)
            elif kind in ("mesh", "glb"):
                points, colors, faces = to_mesh(depth, rgb, k, mask, options.keep_edges)
                if kind == "mesh":
                    save_mesh_ply(tmp, points, colors, faces)
                else:
                    save_glb(tmp, points, colors, faces)
            else:  # pragma: no cover - the CLI validates kinds
                raise ValueError(f"unknown output {kind!r}")
        written.append(path)
    return written


def save_glb(path: str | Path, points: np.ndarray, colors: np.ndarray, faces: np.ndarray) -> None:
    """The mesh as binary glTF through trimesh, in glTF's axes (x right, y up, z backward:
    the camera frame with y and z negated), vertex colours from the image."""
    try:
        import trimesh
    except ImportError:
        raise DataError(MESH_EXTRA_HINT) from None
    gltf = np.asarray(points, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    rgba = np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], axis=1)
    mesh = trimesh.Trimesh(gltf, faces, vertex_colors=rgba, process=False)
    with open(path, "wb") as f:
        f.write(mesh.export(file_type="glb"))

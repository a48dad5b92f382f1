"""The files `msdepth predict` writes for each input, named ``NAME.<ext>`` after the input.

| ``--save`` | file | content |
|---|---|---|
| ``color`` | ``NAME.color.png`` | depth through the magma colormap, near = bright/warm (+ colour bar) |
| ``png16`` | ``NAME.depth.png`` | uint16 millimetres; 0 = invalid or beyond 65.535 m |
| ``npy`` | ``NAME.npy`` | float32 metres, (H, W) |
| ``panel`` | ``NAME.panel.png`` | the input and the colour depth side by side |
| ``ply`` | ``NAME.ply`` | point cloud coloured by the input (see `pointcloud`) |
| ``video`` | ``NAME.depth.mp4`` | videos only: the clip's colour depth as a video (see `video`) |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from msdepth.errors import DataError
from msdepth.fileio import atomic_path, ensure_folder
from msdepth.inference.pointcloud import Intrinsics, save_ply, to_point_cloud
from msdepth.visualize import colorize_depth, make_panel, save_png

OUTPUT_KINDS = ("color", "png16", "npy", "panel", "ply", "video")
SUFFIXES = {
    "color": ".color.png",
    "png16": ".depth.png",
    "npy": ".npy",
    "panel": ".panel.png",
    "ply": ".ply",
    "video": ".depth.mp4",  # one per clip, written by `msdepth.inference.video`
}
PNG16_MAX_METRES = 65.535


@dataclass
class OutputOptions:
    """What to write and how (the ``predict`` flags)."""

    kinds: tuple[str, ...] = ("color", "npy")
    colorbar: bool = False
    vmin: float | None = None
    vmax: float | None = None
    ply_ascii: bool = False
    max_depth: float | None = None  # points farther than this are left out of the PLY
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    fov: float | None = None

    def intrinsics(self, width: int, height: int) -> Intrinsics:
        """Explicit --fx/--fy/--cx/--cy, else --fov, else NYU's Kinect scaled to the image."""
        if self.fov is not None:
            base = Intrinsics.from_fov(self.fov, width, height)
        else:
            base = Intrinsics.nyu_kinect(width, height)
        fx = self.fx if self.fx is not None else (self.fy if self.fy is not None else base.fx)
        fy = self.fy if self.fy is not None else (self.fx if self.fx is not None else base.fy)
        return Intrinsics(
            fx,
            fy,
            self.cx if self.cx is not None else base.cx,
            self.cy if self.cy is not None else base.cy,
        )


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
    depth: np.ndarray,
    options: OutputOptions,
    protect: set[Path] | None = None,
) -> list[Path]:
    """Write every requested output for one prediction; returns the files written.

    ``protect``: resolved paths never to overwrite (the inputs), a `DataError` instead.
    Each file is written under a temporary name and renamed into place, so an existing file of
    the same name is never left half-written.
    """
    ensure_folder(out_dir)
    written: list[Path] = []
    color = None
    for kind in options.kinds:
        if kind == "video":  # a clip's output, not a frame's (`msdepth.inference.video`)
            continue
        path = out_dir / f"{name}{SUFFIXES[kind]}"
        if protect and path.resolve() in protect:
            raise DataError(f"output {path} would overwrite an input; choose another --out")
        with atomic_path(path) as tmp:
            if kind == "npy":
                np.save(tmp, np.asarray(depth, dtype=np.float32))
            elif kind == "png16":
                Image.fromarray(depth_to_png16(depth)).save(tmp, format="PNG")
            elif kind in ("color", "panel"):
                if color is None:
                    color = color_depth_image(depth, options.colorbar, options.vmin, options.vmax)
                save_png(tmp, color if kind == "color" else make_panel([rgb, color]))
            elif kind == "ply":
                h, w = depth.shape
                mask = None if options.max_depth is None else depth <= options.max_depth
                points, colors = to_point_cloud(depth, rgb, options.intrinsics(w, h), mask)
                save_ply(tmp, points, colors, binary=not options.ply_ascii)
            else:  # pragma: no cover - the CLI validates kinds
                raise ValueError(f"unknown output {kind!r}")
        written.append(path)
    return written

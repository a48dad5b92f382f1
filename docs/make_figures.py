"""Make docs/images/predict_outputs.png: input | colour depth with colour bar | point cloud.

    PYTHONPATH=src python docs/make_figures.py --checkpoint runs/nyu/model.safetensors

Without --checkpoint a randomly initialised (seeded) model of the paper's geometry is used and
the figure says so. The image defaults to a held-out synthetic room rendered at 640x480 (real
NYU images are test data that the repository must not redistribute). The picture comes from
the same code as ``msdepth predict --save color,ply --colorbar``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SYNTHETIC_FRAME = (0, "test", 5)  # seed, split, index of the default input
DEFAULT_OUT = ROOT / "docs" / "images" / "predict_outputs.png"


def render_point_cloud(ax, points: np.ndarray, colors: np.ndarray, stride: int) -> None:
    """Oblique view of the cloud (camera frame: x right, y down, z forward)."""
    p, c = points[::stride], colors[::stride] / 255.0
    # Plot with z (depth) receding and y pointing up on the page.
    ax.scatter(p[:, 0], p[:, 2], -p[:, 1], c=c, s=0.6, linewidths=0, depthshade=False)
    ax.view_init(elev=22, azim=-58)
    ax.set_xlabel("x (m)", fontsize=7, labelpad=-8)
    ax.set_ylabel("z (m)", fontsize=7, labelpad=-8)
    ax.set_zlabel("-y (m)", fontsize=7, labelpad=-8)
    ax.tick_params(labelsize=6, pad=-3)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(4))
    rx, ry, rz = np.ptp(p, axis=0)
    ax.set_box_aspect((rx, max(rz, 0.8 * rx), ry), zoom=1.25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: random-init paper model")
    parser.add_argument("--image", type=Path, default=None, help="default: a synthetic room")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stride", type=int, default=7, help="plot every N-th point")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from PIL import Image

    import msdepth
    from msdepth.checkpoint import save_model
    from msdepth.config import Config
    from msdepth.inference.outputs import color_depth_image
    from msdepth.models import MultiScaleDepth

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            cfg = Config()
            model = MultiScaleDepth(cfg.model)
            checkpoint = save_model(Path(tmp) / "random.safetensors", model, cfg, "fine", 0)
            label = "randomly initialised model (untrained)"
        else:
            label = f"model {Path(checkpoint).name}"
        predictor = msdepth.load(checkpoint)
        if args.image is None:
            from msdepth.synth import render_sample

            rgb, _ = render_sample(*SYNTHETIC_FRAME, size=(640, 480))
            name = "held-out synthetic room"
        else:
            rgb, name = msdepth.read_rgb(args.image), args.image.name
        depth = predictor.predict(rgb)
    points, colors = msdepth.to_point_cloud(depth, rgb)  # NYU Kinect intrinsics by default

    h, w = depth.shape
    fig = plt.figure(figsize=(15.5, 4.1), dpi=90)
    grid = fig.add_gridspec(1, 3, width_ratios=[w, w + 90, 1.0 * w], wspace=0.02)
    ax = fig.add_subplot(grid[0])
    ax.imshow(rgb)
    ax.set_title(f"input: {name} ({w}x{h})", fontsize=10)
    ax.axis("off")
    ax = fig.add_subplot(grid[1])
    ax.imshow(color_depth_image(depth, colorbar=True))
    ax.set_title(f"--save color --colorbar: depth in metres\n{label}", fontsize=10)
    ax.axis("off")
    ax = fig.add_subplot(grid[2], projection="3d")
    render_point_cloud(ax, points, colors, args.stride)
    ax.set_title(f"--save ply: {len(points):,} coloured points", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    image = Image.fromarray(pixels)
    image.save(args.out, optimize=True)
    if args.out.stat().st_size > 480_000:  # keep the README light: a 256-colour palette
        image.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 11's two tables: the focal rule across fields of view, and alignment to known depths.

1. **Field of view.** Synthetic test rooms rendered at horizontal FoV 45, 63.3 (NYU's Kinect)
   and 80 degrees (``msdepth synth --train 0 --test N --seed 1 [--fov DEG]``); a model trained
   at 63.3 degrees is evaluated on each set without and with the right field of view (read from
   the set's ``meta.json`` intrinsics), whole frame, no crop, 1e-3..10 m, mean over images.
2. **Alignment.** On real NYU-style pairs (``../shared/data/nyu-test``, evaluation only), 50
   ground-truth pixels per image (a seeded draw among the valid ones inside the Eigen crop) are
   given to `DepthPredictor.align`; abs_rel is measured on the **other** valid pixels (Eigen
   crop, 1e-3..10 m) and compared with per-image median scaling by the full ground truth.

    PYTHONPATH=src python benchmarks/bench_camera.py --checkpoint RUN \\
        --fov-sets S/test45 S/test63 S/test80 --nyu ../shared/data/nyu-test [--json out.json]

Figures in docs/inference.md ("Camera and focal length", "Alignment"). Never a unit test.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import emit

POINTS = 50


def fov_table(model, sets: list[Path]) -> list[dict]:
    from msdepth.data.prepared import read_meta
    from msdepth.evaluation import EvalSettings, evaluate, open_samples
    from msdepth.inference.camera import CameraSpec

    settings = EvalSettings(crop="none", min_depth=1e-3, max_depth=10.0)
    rows = []
    for path in sets:
        meta = read_meta(path)
        width = meta["image_size"][0]
        fov = math.degrees(2 * math.atan(width / 2 / meta["intrinsics"]["fx"]))
        source = open_samples(path, "test")
        row = {"set": path.name, "fov_deg": round(fov, 2), "images": len(source)}
        for label, camera in (("without", None), ("with_fov", CameraSpec(fov=fov))):
            m = evaluate(model, source, settings, camera=camera).metrics
            row[label] = {"abs_rel": m["abs_rel"], "delta1": m["delta1"], "rmse": m["rmse"]}
        rows.append(row)
    return rows


def alignment_table(model, nyu: Path, seed: int = 0) -> dict:
    from msdepth.evaluation import open_samples
    from msdepth.inference.align import DepthPoints
    from msdepth.metrics import crop_mask, depth_metrics

    rng = np.random.default_rng(seed)
    rows: dict[str, list[float]] = {
        k: [] for k in ("none", "median_full_gt", "scale", "scale-shift")
    }
    for sample in open_samples(nyu):
        gt = sample.depth
        valid = (gt > 1e-3) & (gt < 10.0) & crop_mask("eigen", gt.shape)
        v, u = np.nonzero(valid)
        pick = rng.choice(len(v), size=POINTS, replace=False)
        points = DepthPoints(u[pick], v[pick], gt[v[pick], u[pick]].astype(np.float64), "gt")
        others = valid.copy()
        others[v[pick], u[pick]] = False  # score only the pixels the fit did not see
        prediction = model.infer(sample.rgb)
        rows["none"].append(depth_metrics(prediction.depth, gt, others)["abs_rel"])
        rows["median_full_gt"].append(
            depth_metrics(prediction.depth, gt, others, median_scaling=True)["abs_rel"]
        )
        for mode in ("scale", "scale-shift"):
            aligned = model.align(prediction, points, mode)
            rows[mode].append(depth_metrics(aligned.depth, gt, others)["abs_rel"])
    means = {k: float(np.mean(v)) for k, v in rows.items()}
    return {"images": len(rows["none"]), "points_per_image": POINTS, "abs_rel": means,
            "scale_minus_median": means["scale"] - means["median_full_gt"]}  # fmt: skip


def main() -> None:
    import msdepth

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--fov-sets", nargs="*", type=Path, default=[])
    parser.add_argument("--nyu", type=Path, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = msdepth.load(args.checkpoint)
    cfg = model.config.model
    results = {
        "model": str(args.checkpoint),
        "train_focal": cfg.train_focal,
        "train_focal_source": cfg.train_focal_source,
    }
    if args.fov_sets:
        results["fov"] = fov_table(model, args.fov_sets)
    if args.nyu:
        results["alignment"] = alignment_table(model, args.nyu)
    emit("camera", results, args.json)


if __name__ == "__main__":
    main()

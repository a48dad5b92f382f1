"""Learning curve: held-out metrics against training images seen, which no machine changes.

    python benchmarks/bench_learning.py [--preset quick] [--precision fp32]
        [--budgets 1000,2000,4000,8000,16000,32000] [--fine-share S] [--data DIR] [--json PATH]

For each budget of B training images, a fresh run trains the coarse network on (1 - s) B images
then the fine network on s B (s = ``--fine-share``, by default quickstart's share), with the
recipe's schedule fitted to that length (cosine to zero at the stage's last step), on synthetic
rooms (``--rooms`` train, 100 val, 200 test, seed 0; rendered once into ``--data``; the test
rooms do not depend on ``--rooms``). The fine stage keeps its best
validated state (step 0 = the coarse prediction included), as in ``msdepth quickstart``. Both
the coarse result and the kept coarse + fine model are scored on the 200 test rooms with the
demo's protocol (whole frame, no crop, 1e-3..10 m, per-image mean), beside a constant depth.
With ``--real PATH`` (a folder or CSV of real RGB-D pairs, e.g. ``../shared/data/nyu-test``;
evaluation only) the kept model is also scored zero-shot on them, Eigen crop, metric and
per-image median-scaled, beside the constant training median: the sim-to-real figures of
docs/synth.md.

fp32 by default, so the curve stands for CPUs without bf16 (bf16 changes rounding only).
About 35 minutes of training for the default budgets on a 2-core Sapphire Rapids in fp32.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

from harness import emit, load_average

METRICS = ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--budgets", default="1000,2000,4000,8000,16000,32000")
    parser.add_argument("--fine-share", type=float, default=None, help="default: quickstart's")
    parser.add_argument("--rooms", type=int, default=8000, help="training rooms to render")
    parser.add_argument("--data", type=Path, default=Path("bench-results/learning-data"))
    parser.add_argument("--runs", type=Path, default=Path("bench-results/learning-runs"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0, help="training seed (data stays seed 0)")
    parser.add_argument("--keep-runs", action="store_true", help="keep each budget's run folder")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="train nothing: score the kept run folders of --runs (a run stopped before its JSON)",
    )
    parser.add_argument("--real", type=Path, default=None, help="real RGB-D pairs to score")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from msdepth.evaluation import EvalSettings, evaluate, open_samples
    from msdepth.inference import load
    from msdepth.presets import preset_config
    from msdepth.quickstart import FINE_SHARE, _constant_metrics, _train_median_depth, beats
    from msdepth.synth import synthesize_dataset
    from msdepth.train import train

    if args.fine_share is None:
        args.fine_share = FINE_SHARE
    if not (args.data / "meta.json").is_file():
        synthesize_dataset(
            args.data, args.rooms, 200, seed=0, val=100, overwrite=True, progress=False
        )
    config = preset_config(args.preset).with_overrides(
        {
            "train.precision": args.precision,
            "train.seed": args.seed,
            "train.keep_last": 1,
            "train.checkpoint_every": 10**9,
            "train.panel_every": 10**9,
            "train.tensorboard": False,
        }
    )
    config = config.with_overrides(args.set, source="--set")
    batch = config.train.batch_size
    settings = EvalSettings(crop="none", min_depth=1e-3, max_depth=10.0)
    median = _train_median_depth(args.data)
    constant = _constant_metrics(open_samples(args.data, "test"), median, settings)
    real = open_samples(args.real) if args.real is not None else None
    real_settings = {
        "metric": EvalSettings(crop="eigen"),
        "median_scaled": EvalSettings(crop="eigen", median_scaling=True),
    }
    real_constant = {}
    if real is not None:
        scores = _constant_metrics(real, median, real_settings["metric"])
        real_constant = {
            "real": str(args.real),
            "real_constant": {k: scores[k] for k in METRICS},
        }
    points = []
    for budget in (int(b) for b in args.budgets.split(",")):
        fine_steps = max(1, round(budget * args.fine_share / batch))
        coarse_steps = max(1, round(budget / batch) - fine_steps)
        cfg = config.with_overrides(
            {
                "train.coarse_steps": coarse_steps,
                "train.fine_steps": fine_steps,
                "train.val_every": max(1, coarse_steps // 3),
            }
        )
        out = args.runs / f"images-{budget}"
        if args.rescore:
            coarse, fine, seconds = _kept_stages(out), _kept_stages(out, "fine"), math.nan
        else:
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            coarse = train(cfg, args.data, out, stages=("coarse",), progress=False)
            coarse = coarse.stages["coarse"]
            cfg = cfg.replace("train", val_every=max(1, fine_steps // 4))
            fine = train(cfg, args.data, out, stages=("fine",), progress=False).stages["fine"]
            seconds = time.perf_counter() - t0
        rows = {}
        for label, stage in (("coarse", coarse), ("coarse + fine", fine)):
            result = evaluate(load(stage.result), open_samples(args.data, "test"), settings)
            rows[label] = {k: result.metrics[k] for k in METRICS}
        point = {
            "images": (coarse_steps + fine_steps) * batch,
            "coarse_images": coarse_steps * batch,
            "fine_images": fine_steps * batch,
            "fine_kept_step": fine.kept_step,
            "train_seconds": round(seconds, 1),
            "images_per_second": {
                "coarse": coarse.images_per_second,
                "fine": fine.images_per_second,
            },
            "load_average": load_average(),
            **rows,
            "fine_not_worse": rows["coarse + fine"]["delta1"] >= rows["coarse"]["delta1"]
            and rows["coarse + fine"]["abs_rel"] <= rows["coarse"]["abs_rel"],
            "beats_constant": not beats(rows["coarse + fine"], constant),
        }
        if real is not None:
            model = load(fine.result)
            point["real"] = {
                label: {k: evaluate(model, real, s).metrics[k] for k in METRICS}
                for label, s in real_settings.items()
            }
        points.append(point)
        c, f = rows["coarse"], rows["coarse + fine"]
        print(
            f"{point['images']:>6} images: coarse d1 {c['delta1']:.3f} abs_rel {c['abs_rel']:.3f}"
            f" | coarse+fine d1 {f['delta1']:.3f} abs_rel {f['abs_rel']:.3f} rmse {f['rmse']:.3f}"
            f" (fine kept step {fine.kept_step}/{fine_steps}, {seconds:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        if real is not None:
            r, m = point["real"]["metric"], point["real"]["median_scaled"]
            print(
                f"        real: metric d1 {r['delta1']:.3f} abs_rel {r['abs_rel']:.3f}"
                f" rmse {r['rmse']:.3f} | median-scaled d1 {m['delta1']:.3f}"
                f" abs_rel {m['abs_rel']:.3f}",
                file=sys.stderr,
                flush=True,
            )
        if not (args.keep_runs or args.rescore):  # --rescore never deletes what it scored
            shutil.rmtree(out, ignore_errors=True)
    emit(
        "learning",
        {
            "preset": args.preset,
            "precision": args.precision,
            "overrides": args.set,
            "fine_share": args.fine_share,
            "batch_size": batch,
            "constant": {"depth_m": median, **{k: constant[k] for k in METRICS}},
            **real_constant,
            "points": points,
        },
        args.json,
    )
    return 0


def _kept_stages(run: Path, stage: str = "coarse"):
    """What a finished run handed on, read back from its folder (for ``--rescore``): the
    coarse stage's last checkpoint, or the fine stage's kept model, with its step."""
    from types import SimpleNamespace

    from msdepth.checkpoint import list_checkpoints, read_info

    path = list_checkpoints(run, "coarse")[-1] if stage == "coarse" else run / "model.safetensors"
    info = read_info(path)
    return SimpleNamespace(result=path, kept_step=info.step, images_per_second=math.nan)


if __name__ == "__main__":
    sys.exit(main())

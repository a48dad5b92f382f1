"""Video depth: flicker and accuracy stabilised vs not, and the video path's speed vs the image path.

    python benchmarks/bench_video.py --checkpoint RUN [--frames 120] [--rounds 2] [--json out.json]

1. Renders a hand-held fly-through (`msdepth synth --sequence FRAMES --clean-depth`, seed 0,
   320x240) into a work folder (kept between runs).
2. **Flicker and abs_rel** (whole frame, no crop, 1e-3..10 m), two ways:
   - ``msdepth evaluate`` on the stored frames, with and without ``--stabilize``;
   - ``msdepth predict frames.mp4 --save npy`` (the H.264 clip, as a user would), with and
     without ``--no-stabilize``, the written maps scored against the ground truth.
   Where OpenCV is installed, also a stabiliser whose reference is first warped by DIS optical
   flow (``cv2.DISOpticalFlow``, ultrafast preset, on the frames at full size), to measure whether
   flow earns its place.
3. **Throughput** on the same frames: the image path (the clip's decoded frames as PNG files,
   ``predict FOLDER --save color``) and the video path (``predict frames.mp4 --save video``,
   stabilised), alternated ``--rounds`` times in this process; images per second (medians) and
   their ratio, so load from other jobs slows both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emit, load_average
from msdepth.cli.main import main


def score(pred_files: list[Path], gt: np.ndarray) -> dict[str, float]:
    from msdepth.metrics import FlickerAccumulator, MetricAccumulator

    acc, flicker = MetricAccumulator(), FlickerAccumulator()
    for path, truth in zip(pred_files, gt, strict=True):
        pred = np.load(path)
        acc.update(pred, truth)
        flicker.update(pred, truth)
    return {"abs_rel": acc.compute()["abs_rel"], "flicker": flicker.compute()}


def flow_stabilised(predictor, frames: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """The stabiliser with its reference warped by DIS flow first (current -> previous frame)."""
    import cv2

    from msdepth.inference.stabilize import Stabilizer
    from msdepth.metrics import FlickerAccumulator, MetricAccumulator

    class FlowStabilizer(Stabilizer):
        def __init__(self):
            super().__init__()
            self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
            self.grey = None
            self.flow_seconds = 0.0

        def __call__(self, log_depth, rgb):
            grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
            if self.grey is not None and self._previous is not None:
                t = time.perf_counter()
                flow = self.dis.calc(grey, self.grey, None)  # where each pixel was a frame ago
                h, w = log_depth.shape
                small = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA)
                small[..., 0] *= w / grey.shape[1]
                small[..., 1] *= h / grey.shape[0]
                yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
                self._previous = cv2.remap(self._previous, xx + small[..., 0],
                                           yy + small[..., 1], cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                self._image = cv2.remap(self._image, xx + small[..., 0], yy + small[..., 1],
                                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                self.flow_seconds += time.perf_counter() - t
            self.grey = grey
            return super().__call__(log_depth, rgb)

    stab = FlowStabilizer()
    acc, flicker = MetricAccumulator(), FlickerAccumulator()
    for (index, _), depth in predictor.predict_stream(
        enumerate(frames), rgb_of=lambda item: item[1], log_filter=stab
    ):
        acc.update(depth, gt[index])
        flicker.update(depth, gt[index])
    return {
        "abs_rel": acc.compute()["abs_rel"],
        "flicker": flicker.compute(),
        "flow_ms_per_frame": 1000 * stab.flow_seconds / max(len(frames) - 1, 1),
    }


def run_cli(*argv: object) -> float:
    start = time.perf_counter()
    code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"msdepth {argv[0]} failed with {code}")
    return time.perf_counter() - start


def main_(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/msdepth-bench-video"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from PIL import Image

    import msdepth
    from msdepth.data import open_dataset
    from msdepth.data.video import decode_frames

    work, ckpt = args.work, args.checkpoint
    data = work / f"sequence{args.frames}"
    if not (data / "meta.json").is_file():
        run_cli("synth", "--sequence", args.frames, "--out", data, "--clean-depth", "--quiet",
                "--overwrite")  # fmt: skip
    clip = data / "frames.mp4"
    gt = np.asarray(open_dataset(data, "test").depth, np.float32)
    results: dict = {"frames": args.frames, "checkpoint": str(ckpt), "load_before": load_average()}

    # flicker and accuracy ------------------------------------------------------------------------
    common = ("--checkpoint", ckpt, "--device", "cpu", "--quiet")
    for flag in ("", "--stabilize"):
        report = work / f"evaluate{flag or '-per-frame'}.json"
        run_cli("evaluate", *common, "--data", data, "--crop", "none", "--json", report,
                *([flag] if flag else []))  # fmt: skip
        r = json.loads(report.read_text())
        results[f"evaluate {'stabilized' if flag else 'per frame'}"] = {
            "abs_rel": r["metrics"]["abs_rel"],
            "delta1": r["metrics"]["delta1"],
            "flicker": r["flicker"]["mean"],
        }
    for flag in ("--no-stabilize", "--stabilize"):
        out = work / f"predict{flag}"
        run_cli("predict", *common, clip, "--out", out, "--save", "npy", flag)
        files = sorted(out.glob("frames_f*.npy"))
        results[f"predict mp4 {flag.lstrip('-')}"] = score(files, gt)
    try:
        import cv2  # noqa: F401
    except ImportError:
        results["dis_flow"] = "OpenCV not installed"
    else:
        frames = np.stack([f for _, f in decode_frames(clip)])
        results["predict mp4 stabilize + DIS flow"] = flow_stabilised(
            msdepth.load(ckpt), frames, gt
        )

    # throughput -----------------------------------------------------------------------------------
    pngs = work / "frames-png"
    if not pngs.is_dir():
        pngs.mkdir(parents=True)
        for i, rgb in decode_frames(clip):
            Image.fromarray(rgb).save(pngs / f"frame{i:06d}.png")
    image_s, video_s = [], []
    for _ in range(args.rounds):
        image_s.append(run_cli("predict", *common, pngs, "--out", work / "img-out",
                               "--save", "color"))  # fmt: skip
        video_s.append(run_cli("predict", *common, clip, "--out", work / "vid-out",
                               "--save", "video"))  # fmt: skip
    n = args.frames
    image_rate = n / statistics.median(image_s)
    video_rate = n / statistics.median(video_s)
    results["throughput"] = {
        "image_path_img_per_s": round(image_rate, 2),
        "video_path_img_per_s": round(video_rate, 2),
        "video_over_image": round(video_rate / image_rate, 3),
        "rounds_image_s": [round(t, 2) for t in image_s],
        "rounds_video_s": [round(t, 2) for t in video_s],
    }
    results["load_after"] = load_average()
    return emit("video", results, args.json)


if __name__ == "__main__":
    main_()

"""Inference speed: single-image latency (640x480 file -> full-resolution depth) beside the pure
network forward, batched throughput and peak RSS, for PyTorch and ONNX Runtime.

    python benchmarks/bench_inference.py [--checkpoint CKPT] [--json out.json]

Without --checkpoint a randomly initialised model of the paper's geometry (304x228 -> 74x55)
is used: speed does not depend on the weights. Latency is `DepthPredictor.predict` on a file
path: PNG decoding, the resize, the network, the log-space upsampling to 640x480 and the scale
correction. "forward" is the network alone on an already prepared (1, 3, 228, 304) input
(``model(x)`` under ``torch.inference_mode``, or ``session.run``); the two are timed in
alternation so that other jobs on the machine slow both alike; ``latency_over_forward`` is the
ratio of their medians (``_min`` of their minima, robust on a busy machine). Throughput is `predict_batch` on decoded 640x480 arrays. Each
backend runs in a child process of its own, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emit, load_average, peak_rss_gib

NYU_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/nyu-test/nyu2_test/00000_colors.png"


def stats(times_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(times_ms, 50)), 2),
        "p95_ms": round(float(np.percentile(times_ms, 95)), 2),
        "mean_ms": round(statistics.fmean(times_ms), 2),
        "min_ms": round(min(times_ms), 2),
        "n": len(times_ms),
    }


def forward_fn(predictor):
    """The network alone on a prepared single-image input (what "pure forward" means here)."""
    w, h = predictor.input_size
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    backend = predictor.backend
    if backend.name == "onnx":
        return lambda: backend.session.run(["log_depth"], {"rgb": x})
    import torch

    xt = torch.from_numpy(x)

    def forward():
        with torch.inference_mode():
            backend.model(xt)

    return forward


def latency_and_forward(predictor, image: Path, warmup: int, repeats: int) -> dict:
    forward = forward_fn(predictor)
    for _ in range(warmup):
        predictor.predict(image)
        forward()
    latency, fwd = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        depth = predictor.predict(image)
        latency.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        forward()
        fwd.append((time.perf_counter() - start) * 1000)
    assert depth.shape == (480, 640)
    lat, fw = stats(latency), stats(fwd)
    return {
        "latency_640x480": lat,
        "forward_1x3x228x304": fw,
        "latency_over_forward": round(lat["p50_ms"] / fw["p50_ms"], 2),
        # minima: what each costs when nothing else runs (robust on a shared machine)
        "latency_over_forward_min": round(lat["min_ms"] / fw["min_ms"], 2),
    }


def throughput(predictor, images: list[np.ndarray], batch: int, rounds: int) -> dict:
    predictor.predict_batch(images[:batch], batch_size=batch)
    start = time.perf_counter()
    for _ in range(rounds):
        predictor.predict_batch(images, batch_size=batch)
    elapsed = time.perf_counter() - start
    return {
        "batch_size": batch,
        "images": len(images) * rounds,
        "images_per_s": round(len(images) * rounds / elapsed, 2),
    }


def run_backend(model_path: Path, image: Path, args: argparse.Namespace) -> dict:
    """Everything for one backend, in this process."""
    import msdepth
    from msdepth.data.images import read_rgb

    predictor = msdepth.load(model_path)
    result = latency_and_forward(predictor, image, args.warmup, args.repeats)
    images = [read_rgb(image)] * (2 * args.batch_size)
    result["throughput_640x480"] = throughput(predictor, images, args.batch_size, args.rounds)
    result["peak_rss_gib"] = round(peak_rss_gib(), 3)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: random paper-geometry model")
    parser.add_argument("--image", type=Path, default=None, help="a 640x480 image file")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="throughput: passes over 2 batches")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # MODEL IMAGE
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_backend(Path(args.child[0]), Path(args.child[1]), args)))
        return 0

    import torch
    from PIL import Image

    from msdepth.checkpoint import save_model
    from msdepth.config import Config
    from msdepth.data.images import read_rgb
    from msdepth.export import export_onnx
    from msdepth.models import MultiScaleDepth

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            cfg = Config()
            checkpoint = save_model(
                tmp / "model.safetensors", MultiScaleDepth(cfg.model), cfg, "fine", 0
            )
        image = args.image
        if image is None:
            if NYU_SAMPLE.is_file():
                image = NYU_SAMPLE
            else:
                rng = np.random.default_rng(0)
                image = tmp / "frame.png"
                Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(image)
        rgb = read_rgb(image)
        if rgb.shape[:2] != (480, 640):
            parser.error(f"{image} is {rgb.shape[1]}x{rgb.shape[0]}, not 640x480")
        results: dict[str, dict] = {}
        for backend in args.backends.split(","):
            if backend == "torch":
                model = Path(checkpoint)
            elif backend == "onnx":
                model = export_onnx(checkpoint, tmp / "model.onnx")
            else:
                parser.error(f"unknown backend {backend!r}")
            passthrough = ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
            passthrough += ["--batch-size", str(args.batch_size), "--rounds", str(args.rounds)]
            cmd = [sys.executable, __file__, "--child", str(model), str(image), *passthrough]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results[backend] = json.loads(out.strip().splitlines()[-1])
    emit(
        "inference",
        {
            "model": str(args.checkpoint or "random init, paper geometry 304x228 -> 74x55"),
            "image": str(image if args.image else "NYU 00000_colors.png or random 640x480"),
            "backends": results,
            "load_average_1min": {"before": load_before, "after": load_average()},
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Inference speed: single-image latency (640x480 file -> full-resolution depth) and batched
throughput, for PyTorch and ONNX Runtime. Prints JSON (and writes it with --json).

    PYTHONPATH=src python benchmarks/bench_inference.py [--checkpoint CKPT] [--json out.json]

Without --checkpoint a randomly initialised model of the paper's geometry (304x228 -> 74x55)
is used: speed does not depend on the weights. Latency includes PNG decoding, the resize, the
network, the log-space upsampling to 640x480 and the scale correction (`DepthPredictor.predict`
on a path). Throughput is `predict_batch` on decoded 640x480 arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
NYU_SAMPLE = ROOT.parent / "shared" / "data" / "nyu-test" / "nyu2_test" / "00000_colors.png"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_latency(predictor, image: Path, warmup: int, repeats: int) -> dict[str, float]:
    for _ in range(warmup):
        predictor.predict(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        depth = predictor.predict(image)
        times.append((time.perf_counter() - start) * 1000)
    assert depth.shape == (480, 640)
    return {
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        "repeats": repeats,
    }


def bench_throughput(predictor, images: list[np.ndarray], batch: int, rounds: int) -> dict:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: random paper-geometry model")
    parser.add_argument("--image", type=Path, default=None, help="a 640x480 image file")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="throughput: passes over 2 batches")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import onnxruntime
    import torch
    from PIL import Image

    import msdepth
    from msdepth.checkpoint import save_model
    from msdepth.config import Config
    from msdepth.data.images import read_rgb
    from msdepth.export import export_onnx
    from msdepth.models import MultiScaleDepth

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
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
        images = [rgb] * (2 * args.batch_size)
        results: dict[str, dict] = {}
        for backend in args.backends.split(","):
            if backend == "torch":
                predictor = msdepth.load(checkpoint)
            elif backend == "onnx":
                predictor = msdepth.load(export_onnx(checkpoint, tmp / "model.onnx"))
            else:
                parser.error(f"unknown backend {backend!r}")
            results[backend] = {
                "latency_640x480": bench_latency(predictor, image, args.warmup, args.repeats),
                "throughput_640x480": bench_throughput(
                    predictor, images, args.batch_size, args.rounds
                ),
            }
    report = {
        "benchmark": "inference",
        "model": str(args.checkpoint or "random init, paper geometry 304x228 -> 74x55"),
        "image": str(image if args.image else "NYU 00000_colors.png or random 640x480"),
        "results": results,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "onnxruntime": onnxruntime.__version__,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
        },
        "caveat": "wall-clock on a shared machine; other processes on the same cores skew it",
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Synthetic-data render speed: frames per second at 320x240, one process and the whole pool.

    python benchmarks/bench_synth.py [--frames 400] [--workers 1 2] [--size 320x240] [--cpu-only]

Prints one JSON object: machine, per-stage milliseconds per frame (one process, CPU time),
single-process frames/s, and end-to-end `synthesize_dataset` frames/s (rendering + writing)
for each ``--workers`` value, with the CPU time per frame of the parent process (which counts
the frames and owns the files) and of the worker processes (which render and write them).
From those it projects the frames/s of a machine with ``--project-cores`` cores (the workers'
CPU time per frame spread over the cores the parent leaves, capped by the parent's own rate)
and the disk bandwidth that rate writes. Wall-clock figures depend on what else runs on the
machine; ``--cpu-only`` measures only the per-stage CPU time (robust to other load).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

from harness import emit
from msdepth.synth import synthesize_dataset
from msdepth.synth.layout import random_scene
from msdepth.synth.raycast import cast
from msdepth.synth.render import EMISSION, depth_sensor_inputs, frame_rng, render_sample
from msdepth.synth.scene import EMISSIVE
from msdepth.synth.sensor import camera_image, kinect_depth
from msdepth.synth.shading import shade
from msdepth.synth.surface import surface_at
from msdepth.synth.textures import MaterialTable, albedo


def stage_times(frames: int, size: tuple[int, int]) -> dict[str, float]:
    """CPU milliseconds per frame of each rendering stage (mirrors `render_scene`)."""
    total: dict[str, float] = {}

    def tick(name: str, t0: float) -> float:
        t1 = time.process_time()
        total[name] = total.get(name, 0.0) + (t1 - t0) * 1e3 / frames
        return t1

    prims = 0
    for i in range(frames):
        t = time.process_time()
        rng = frame_rng(12345, "train", i)
        scene = random_scene(rng, size)
        prims += scene.primitive_count
        t = tick("layout", t)
        cam = scene.camera
        hw = (cam.height, cam.width)
        rays, hits = cast(cam, scene)
        t = tick("raycast", t)
        surf = surface_at(rays, hits, scene)
        t = tick("surface", t)
        table = MaterialTable.of(scene.materials)
        base = albedo(surf.uv, surf.prim, table)
        t = tick("textures", t)
        radiance, highlight = shade(surf, base, table, scene, hw)
        lamp = np.take(table.kind, surf.prim) == EMISSIVE
        np.copyto(radiance, base * np.float32(EMISSION), where=lamp)
        t = tick("shading+shadows", t)
        camera_image(radiance.reshape(3, *hw), rng)
        t = tick("image sensor", t)
        grazing, lum = depth_sensor_inputs(surf, rays, base, lamp, cam)
        gloss = highlight.reshape(hw if highlight.size == hw[0] * hw[1] else ((hw[0] + 1) // 2, -1))
        kinect_depth(hits.depth, grazing.reshape(hw), lum.reshape(hw), gloss, rng)
        tick("depth sensor", t)
    total = {k: round(v, 3) for k, v in total.items()}
    total["primitives per scene"] = round(prims / frames, 1)
    return total


def end_to_end(frames: int, workers: int, size: tuple[int, int], cores: int) -> dict:
    """`synthesize_dataset` with ``workers``: frames/s, CPU per frame of the parent and of the
    workers (``workers=1`` renders in the parent itself), and the ``cores``-core projection."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        t0, cpu0 = time.perf_counter(), time.process_time()
        out = synthesize_dataset(
            Path(tmp) / "bench", frames, 0, seed=2, size=size, workers=workers, progress=False
        )
        wall, parent = time.perf_counter() - t0, time.process_time() - cpu0
        nbytes = sum(f.stat().st_size for f in (out / "train").iterdir())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, once joined
    child = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    parent_ms, worker_ms = 1e3 * parent / frames, 1e3 * child / frames
    render_ms = worker_ms if workers > 1 else parent_ms  # one worker: the parent renders
    counting_ms = parent_ms if workers > 1 else 0.0
    # All cores busy: frames/s x (render + counting) CPU ms <= cores x 1000; and the parent,
    # one process, counts at most 1000 / counting_ms frames per second.
    by_cores = cores * 1e3 / (render_ms + counting_ms)
    projected = min(by_cores, 1e3 / counting_ms) if counting_ms else by_cores
    return {
        "frames": frames,
        "workers": workers,
        "frames_per_s": round(frames / wall, 1),
        "parent_cpu_ms_per_frame": round(parent_ms, 3),
        "worker_cpu_ms_per_frame": round(worker_ms, 3),
        "bytes_per_frame": nbytes // frames,
        f"projected_frames_per_s_{cores}_cores": round(projected, 0),
        "projected_write_mb_per_s": round(projected * nbytes / frames / 1e6, 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400, help="frames for the end-to-end run")
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--project-cores", type=int, default=16, help="cores of the projection")
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--json", default=None, help="also write the result to this file")
    ap.add_argument(
        "--cpu-only", action="store_true", help="only the per-stage CPU time (no wall clock)"
    )
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))

    render_sample(0, "train", 0, (w, h))  # warm caches (noise tables, pixel grids)
    stages = stage_times(min(100, args.frames), (w, h))
    cpu_total = round(sum(v for k, v in stages.items() if k != "primitives per scene"), 2)
    if args.cpu_only:
        emit(
            "synth",
            {
                "size": f"{w}x{h}",
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                "stage_cpu_ms_per_frame": stages,
                "cpu_ms_per_frame": cpu_total,
            },
            args.json,
        )
        return

    n1 = min(100, args.frames)
    t0 = time.perf_counter()
    for i in range(n1):
        render_sample(1, "train", i, (w, h))
    single = n1 / (time.perf_counter() - t0)

    runs = [end_to_end(args.frames, n, (w, h), args.project_cores) for n in args.workers]

    emit(
        "synth",
        {
            "size": f"{w}x{h}",
            "cores_usable": len(os.sched_getaffinity(0)),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "stage_cpu_ms_per_frame": stages,
            "cpu_ms_per_frame": cpu_total,
            "single_process_frames_per_s": round(single, 1),
            "end_to_end": runs,
        },
        args.json,
    )


if __name__ == "__main__":
    main()

"""What every benchmark shares: machine facts, timing, and one JSON result per run.

Benchmarks are plain scripts (``python benchmarks/bench_X.py``) that print a JSON document and
optionally write it with ``--json PATH``; figures go into BENCHMARKS.md with the date and machine.
They are never unit tests.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, library versions, date: enough to compare runs honestly."""
    import numpy
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB.

    Linux's ``VmHWM`` where there is one: ``ru_maxrss`` starts a child at its parent's peak
    (it survives fork and exec), so a child process would report its parent's figure.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * percentile(times, 0.5),
        "p95_ms": 1000 * percentile(times, 0.95),
        "mean_ms": 1000 * statistics.fmean(times),
        "n": len(times),
    }


def emit(name: str, results: dict[str, Any], json_path: str | None = None) -> dict[str, Any]:
    """Print (and optionally save) ``{"benchmark", "machine", "results"}`` as JSON."""
    doc = {"benchmark": name, "machine": machine(), "results": results}
    text = json.dumps(doc, indent=2)
    print(text)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(text + "\n")
    sys.stdout.flush()
    return doc


def synthetic_dataset(out: Path, n: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A prepared dataset of ``n`` random frames with smooth depth and 10% holes (float16)."""
    import numpy as np

    from msdepth.data import DatasetWriter

    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    with DatasetWriter(out, image_size=size, source={"kind": "bench"}) as writer:
        split = writer.split("train", n)
        for _ in range(n):
            depth = 1.0 + 4.0 * yy / h + rng.uniform(0, 2) + 0.3 * np.sin(xx / 20)
            depth[rng.uniform(size=depth.shape) < 0.1] = 0
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            split.append(rgb, depth, "bench")
    return out


def load_average() -> float:
    """The 1-minute load average (how busy the machine was: other jobs skew wall-clock)."""
    return round(os.getloadavg()[0], 2)

"""benchmarks/bench_gpu.py: its CPU smoke run, and the arithmetic behind its GPU figures."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))


@pytest.mark.slow
def test_the_smoke_run_on_the_cpu_measures_every_part(tmp_path):
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(BENCHMARKS / "bench_gpu.py"), "--device", "cpu", "--steps", "2"]
    done = subprocess.run(
        [*cmd, "--json", str(out)], capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    rows = results["train"]
    assert {(r["stage"], r["batch"]) for r in rows} == {("coarse", 2), ("fine", 2)}
    assert all(r["images_per_s"] > 0 and r["tflop_per_s"] > 0 for r in rows)
    assert results["loader"]["memory_on_host"]["samples_per_s"] > 0
    assert results["loader"]["worker_loader_0_workers"]["samples_per_s"] > 0
    assert results["feed"]["median_ratio"] > 0
    assert results["matmul_bf16"]["tflop_per_s"] > 0
    assert results["paper_schedule"]["minutes"] > 0
    assert "paper schedule" in done.stderr  # the summary after the JSON


def test_busy_time_counts_overlapping_intervals_once():
    from bench_gpu import union_length

    assert union_length([]) == 0
    assert union_length([(0, 2), (1, 3), (5, 6), (5.5, 5.75)]) == 4
    assert union_length([(4, 6), (0, 1)]) == 3

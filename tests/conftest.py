"""Shared fixtures: small prepared datasets made on the fly, and the real samples in ../shared/data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from msdepth.data.prepared import DatasetWriter

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep each test on the 2-core budget and deterministic."""
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def module_tmp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A folder shared by one module's tests and deleted after them: full-size checkpoints are
    hundreds of MB, so a run must not keep every module's folder until the session ends."""
    path = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip with the reason when it is absent (as on a user's machine)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real RGB-D samples not found at {SHARED_DATA} (only present in the dev/CI workspace)"
        )
    return SHARED_DATA


def write_tiny_dataset(
    out: Path, n_train: int = 8, n_test: int = 4, size: tuple[int, int] = (320, 240), seed: int = 0
) -> Path:
    """A prepared dataset of smooth random scenes with some invalid depth."""
    rng = np.random.default_rng(seed)
    w, h = size
    with DatasetWriter(out, image_size=size, source={"kind": "test-fixture"}) as writer:
        for split, n in (("train", n_train), ("test", n_test)):
            sw = writer.split(split, n)
            for i in range(n):
                yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
                depth = 1.0 + 4.0 * (yy / h) + rng.uniform(0, 1) + 0.5 * np.sin(xx / 30.0)
                depth[rng.uniform(size=(h, w)) < 0.1] = 0.0
                rgb = np.clip(np.stack([depth * 40, 255 - depth * 30, xx % 255], -1), 0, 255)
                sw.append(rgb.astype(np.uint8), depth, f"{split}-{i}")
    return out


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_tiny_dataset(tmp_path / "tiny")

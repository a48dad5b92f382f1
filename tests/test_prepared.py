"""The prepared-dataset format: atomic, memory-mapped, metric."""

import json

import numpy as np
import pytest

from msdepth.data.prepared import DatasetWriter, open_dataset
from msdepth.errors import DataError


def test_round_trip_keeps_metric_depth_and_marks_invalid(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    depth = np.full((6, 8), 2.5, np.float32)
    depth[0, 0], depth[0, 1], depth[0, 2], depth[0, 3] = 0, np.nan, np.inf, -1
    with DatasetWriter(tmp_path / "ds", image_size=(8, 6), source={"kind": "t"}) as w:
        w.split("test", 1).append(rgb, depth, "a")
    ds = open_dataset(tmp_path / "ds")
    s = ds[0]
    assert np.array_equal(s.rgb, rgb)
    assert s.depth.dtype == np.float32 and s.depth[1, 1] == 2.5
    assert not s.mask[0, :4].any() and s.mask[1:].all()
    assert (s.depth[0, :4] == 0).all()
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert meta["splits"]["test"]["count"] == 1
    assert meta["splits"]["test"]["depth_min"] == 2.5


def test_failure_while_writing_leaves_no_dataset_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "ds"
    with DatasetWriter(out, image_size=(4, 4), source={"v": 1}) as w:
        w.split("test", 1).append(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4)), "a")
    with (
        pytest.raises(RuntimeError),
        DatasetWriter(out, image_size=(4, 4), source={"v": 2}, overwrite=True) as w,
    ):
        w.split("test", 1)
        raise RuntimeError("crash mid-way")
    assert json.loads((out / "meta.json").read_text())["source"] == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_existing_dataset_needs_overwrite(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    with pytest.raises(DataError, match="--overwrite"):
        DatasetWriter(out, image_size=(4, 4), source={})


def test_fewer_samples_than_announced_are_shrunk(tmp_path):
    with DatasetWriter(tmp_path / "ds", image_size=(4, 4), source={}) as w:
        sw = w.split("train", 5)
        sw.append(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4)), "a")
        sw.skip("b", "truncated PNG")
    ds = open_dataset(tmp_path / "ds", "train")
    assert len(ds) == 1 and ds.rgb.shape == (1, 4, 4, 3)
    assert ds.meta["splits"]["train"]["skipped_files"] == [{"name": "b", "reason": "truncated PNG"}]


def test_open_dataset_errors_name_the_path(tmp_path, tiny_dataset):
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(tmp_path / "missing")
    with pytest.raises(DataError, match="choose one with --split"):
        open_dataset(tiny_dataset)
    with pytest.raises(DataError, match="no split 'val'"):
        open_dataset(tiny_dataset, "val")


def test_shrinking_in_place_keeps_the_rows_written(tmp_path):
    from msdepth.data.prepared import truncate_npy

    path = tmp_path / "a.npy"
    data = np.arange(5 * 3 * 2, dtype=np.float16).reshape(5, 3, 2)
    np.save(path, data)
    truncate_npy(path, 2)
    assert np.array_equal(np.load(path), data[:2])
    assert np.array_equal(np.load(path, mmap_mode="r"), data[:2])

"""Training across cameras: synth --fov, per-frame intrinsics, depth taken to the canonical focal,
and the training focal recorded in every checkpoint."""

import numpy as np
import pytest

from conftest import write_tiny_dataset
from msdepth.checkpoint import read_info
from msdepth.cli.main import main
from msdepth.config import AugmentConfig, ModelConfig
from msdepth.data import make_eval_loader, make_train_loader, open_dataset
from msdepth.data.in_memory import make_memory_loader
from msdepth.synth import synthesize_dataset
from msdepth.synth.layout import random_scene
from msdepth.synth.render import frame_rng
from msdepth.synth.scene import nyu_intrinsics
from msdepth.train import train
from msdepth.train.targets import NYU_FX, canonical_focal, focal_factors
from train_fixtures import tiny_config

SIZE = (64, 48)


def test_a_field_of_view_changes_the_intrinsics_only_not_the_room_or_the_pose():
    kinect = random_scene(frame_rng(0, "train", 5), SIZE)
    wide = random_scene(frame_rng(0, "train", 5), SIZE, fov=80.0)
    np.testing.assert_array_equal(kinect.room, wide.room)
    np.testing.assert_array_equal(kinect.boxes, wide.boxes)
    np.testing.assert_array_equal(kinect.camera.position, wide.camera.position)
    np.testing.assert_array_equal(kinect.camera.rotation, wide.camera.rotation)
    assert kinect.camera.fx == pytest.approx(nyu_intrinsics(SIZE)["fx"])
    assert wide.camera.fx == pytest.approx(32 / np.tan(np.radians(40)))


def test_synth_fov_range_stores_each_frame_s_intrinsics_the_same_for_any_worker_count(tmp_path):
    tables = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert main(["synth", "--out", str(out), "--train", "0", "--test", "20", "--size",
                     "64x48", "--fov", "45:80", "--workers", str(workers), "--quiet"]) == 0  # fmt: skip
        ds = open_dataset(out, "test")
        assert ds.meta["intrinsics"] is None and ds.per_frame_intrinsics
        tables.append(ds.frame_intrinsics())
    np.testing.assert_array_equal(tables[0], tables[1])
    fov = np.degrees(2 * np.arctan(32 / tables[0][:, 0]))
    assert fov.min() >= 45 and fov.max() <= 80 and np.ptp(fov) > 10
    np.testing.assert_array_equal(tables[0][:, 0], tables[0][:, 1])  # square pixels


def test_synth_fixed_fov_is_one_camera_in_meta_json(tmp_path):
    out = synthesize_dataset(tmp_path / "d", 0, 2, size=SIZE, fov=70.0, progress=False)
    ds = open_dataset(out, "test")
    assert not ds.per_frame_intrinsics
    assert ds.intrinsics["fx"] == pytest.approx(32 / np.tan(np.radians(35)))


@pytest.mark.parametrize("bad", ["0", "180", "80:45", "wide", "10:20:30"])
def test_synth_refuses_a_field_of_view_that_is_not_one(bad, tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "d"), "--fov", bad, "--quiet"]) == 2
    assert "--fov" in capsys.readouterr().err


def test_canonical_focal_is_the_dataset_s_camera_or_kinect_for_per_frame_or_unknown(tmp_path):
    one = open_dataset(synthesize_dataset(tmp_path / "one", 2, 0, size=SIZE, progress=False))
    focal, source = canonical_focal(one, ModelConfig())
    assert focal == one.intrinsics["fx"] and "meta.json" in source
    assert focal_factors(one, focal) is None  # one camera: depth exactly as stored
    many = open_dataset(
        synthesize_dataset(tmp_path / "many", 4, 0, size=SIZE, fov=(45, 80), progress=False)
    )
    focal, source = canonical_focal(many, ModelConfig())
    assert focal == pytest.approx(NYU_FX * 64 / 640) and "canonical" in source
    factors = focal_factors(many, focal)
    np.testing.assert_allclose(factors, focal / many.frame_intrinsics()[:, 0])
    none = open_dataset(write_tiny_dataset(tmp_path / "none", 2, 0, size=SIZE), "train")
    assert canonical_focal(none, ModelConfig()) == (0.0, "unknown: none has no intrinsics")
    assert canonical_focal(none, ModelConfig(train_focal=50.0))[0] == 50.0


def test_the_loader_takes_each_sample_s_depth_to_the_canonical_focal(tmp_path):
    ds = open_dataset(write_tiny_dataset(tmp_path / "d", 4, 0, size=(96, 72)), "train")
    factors = np.array([1.0, 2.0, 0.5, 1.5], np.float32)
    plain = next(iter(make_eval_loader(ds, 4, (72, 96), (18, 24))))
    scaled = next(iter(make_eval_loader(ds, 4, (72, 96), (18, 24), depth_factors=factors)))
    expected = plain.depth.numpy() * factors.reshape(4, 1, 1, 1)
    np.testing.assert_allclose(scaled.depth.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(scaled.image, plain.image)


def test_the_in_memory_loader_takes_depth_to_the_canonical_focal_as_the_worker_loader(tmp_path):
    ds = open_dataset(write_tiny_dataset(tmp_path / "d", 4, 0, size=(96, 72)), "train")
    factors = np.array([1.0, 2.0, 0.5, 1.5], np.float32)
    kw = dict(batch_size=2, augment=AugmentConfig(), input_hw=(72, 96), output_hw=(18, 24),
              seed=3, depth_factors=factors)  # fmt: skip
    workers = make_train_loader(ds, workers=0, num_steps=3, **kw)
    memory = make_memory_loader(ds, device="cpu", num_steps=3, **kw)
    plain = make_memory_loader(ds, device="cpu", num_steps=3, **{**kw, "depth_factors": None})
    for a, b, c in zip(workers, memory, plain, strict=True):
        np.testing.assert_array_equal(a.depth.numpy(), b.depth.numpy())
        np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
        assert not np.array_equal(b.depth.numpy(), c.depth.numpy())  # the factors were applied


@pytest.mark.slow
def test_every_checkpoint_records_the_training_focal_and_where_it_came_from(tmp_path):
    data = synthesize_dataset(tmp_path / "d", 8, 4, size=(128, 96), fov=(50, 70), progress=False)
    result = train(tiny_config(train__coarse_steps=1), data, tmp_path / "run", stages=["coarse"],
                   progress=False)  # fmt: skip
    model = read_info(result.model_path).config.model
    assert model.train_focal == pytest.approx(NYU_FX * 128 / 640)
    assert "canonical camera" in model.train_focal_source
    none = write_tiny_dataset(tmp_path / "none", 8, 4, size=(128, 96))
    result = train(tiny_config(train__coarse_steps=1), none, tmp_path / "run2", stages=["coarse"],
                   progress=False)  # fmt: skip
    model = read_info(result.model_path).config.model
    assert (
        model.train_focal == 0.0 and model.train_focal_source == "unknown: none has no intrinsics"
    )

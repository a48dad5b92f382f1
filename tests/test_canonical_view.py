"""The canonical view: a narrow camera's image shrunk to the training camera's scale, opt-in."""

import math

import numpy as np
import pytest

import msdepth
from fake_models import constant_checkpoint
from msdepth.config import ModelConfig
from msdepth.errors import ConfigError
from msdepth.inference.camera import NYU_KINECT, CameraSpec, FocalLength, depth_camera
from msdepth.inference.canonical_view import from_canonical, to_canonical
from test_camera import KINECT_AT_320, TRAINED


def test_the_canonical_view_shrinks_the_image_into_the_centre_and_repeats_its_edges():
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = 200  # left half bright
    canvas = to_canonical(rgb, 0.5)
    assert canvas.shape == rgb.shape
    assert (canvas[:, :15] == 200).all()  # left border repeats the bright edge
    assert (canvas[:, 46:] == 0).all()  # right border repeats the dark edge
    assert abs(int(np.argmax(canvas[20, :, 0] < 100)) - 30) <= 1  # the edge stays centred


def test_the_centre_of_a_canonical_prediction_comes_back_at_the_full_size():
    truth = np.tile(np.linspace(0.0, 1.0, 40, dtype=np.float32), (30, 1))
    canvas = np.zeros((30, 40), np.float32)
    canvas[7:22, 10:30] = truth[::2, ::2]  # the shrunk map at the centre (k = 0.5)
    back = from_canonical(canvas, 0.5)
    assert back.shape == truth.shape
    assert np.abs(back - truth)[:, 2:-2].max() < 0.05


def test_a_narrow_camera_uses_the_canonical_view_only_when_asked():
    model = ModelConfig(train_focal=KINECT_AT_320)
    long = FocalLength(NYU_KINECT["fx"] * 1.5, "test")
    rule = depth_camera(model, 640, 480, long)
    canonical = depth_camera(model, 640, 480, long, CameraSpec(narrow="canonical"))
    assert rule.shrink == 1.0 and rule.depth_factor == pytest.approx(1.5 * 304 / 320)
    assert canonical.shrink == pytest.approx(1 / 1.5)
    assert canonical.depth_factor == pytest.approx(304 / 320)
    assert canonical.describe()["canonical_view_shrink"] == pytest.approx(1 / 1.5)


def test_a_wide_camera_keeps_the_focal_rule_with_the_canonical_view_asked():
    model = ModelConfig(train_focal=KINECT_AT_320)
    wide = FocalLength(NYU_KINECT["fx"] * 0.7, "test")
    camera = depth_camera(model, 640, 480, wide, CameraSpec(narrow="canonical"))
    assert camera.shrink == 1.0 and camera.depth_factor == pytest.approx(0.7 * 304 / 320)


def test_a_canonical_prediction_keeps_the_training_cameras_factor(tmp_path):
    model = msdepth.load(constant_checkpoint(tmp_path / "c.safetensors", 2.0, TRAINED))
    image = np.zeros((48, 64, 3), np.uint8)
    f45 = 32 / math.tan(math.radians(22.5))
    result = model.infer(image, camera=CameraSpec(fov=45, narrow="canonical"))
    np.testing.assert_allclose(result.depth, 2.0 * 96 / 320, rtol=1e-5)
    assert result.camera.shrink == pytest.approx(KINECT_AT_320 * 64 / 320 / f45)
    assert result.depth.shape == (48, 64)


def test_an_unknown_narrow_mode_is_one_line():
    with pytest.raises(ConfigError, match="--narrow 'zoom': choose one of canonical, rule"):
        CameraSpec(narrow="zoom")

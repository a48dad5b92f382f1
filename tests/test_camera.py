"""The focal rule: metres = network depth x f_input / f_train, the focal from flags or EXIF."""

import math

import numpy as np
import pytest
from PIL import Image

import msdepth
from fake_models import SMALL, constant_checkpoint
from msdepth.config import ModelConfig
from msdepth.errors import ConfigError, DataError
from msdepth.inference.camera import (
    NYU_KINECT,
    CameraSpec,
    FocalLength,
    Intrinsics,
    depth_camera,
    exif_focal,
    whole_frame_factor,
)

KINECT_AT_320 = NYU_KINECT["fx"] * 320 / 640
TRAINED = {**SMALL, "model.train_focal": KINECT_AT_320, "model.train_focal_source": "test"}


def jpeg_with_exif(path, size=(64, 48), **tags):
    """A JPEG whose Exif IFD holds ``tags`` (tag number -> value), written by Pillow."""
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    for tag, value in tags.items():
        ifd[int(tag.removeprefix("t"), 16)] = value
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, exif=exif)
    return path


@pytest.fixture
def trained(tmp_path):
    """A constant-output model (2 m) that knows its training camera: NYU's Kinect at 320 px."""
    return msdepth.load(constant_checkpoint(tmp_path / "c.safetensors", 2.0, TRAINED))


def test_the_training_camera_s_own_focal_gives_today_s_whole_frame_factor():
    model = ModelConfig(train_focal=KINECT_AT_320)
    nyu = depth_camera(model, 640, 480, FocalLength(NYU_KINECT["fx"], "test"))
    assert nyu.focal_rule
    assert nyu.depth_factor == pytest.approx(304 / 320, rel=1e-12)


def test_no_known_focal_keeps_exactly_input_width_over_reference_width():
    for model in (ModelConfig(), ModelConfig(train_focal=300.0)):
        camera = depth_camera(model, 640, 480, None)
        assert camera.depth_factor == whole_frame_factor(model) == 304 / 320
        assert not camera.focal_rule and camera.focal_source.startswith("assumed")


def test_an_unknown_training_focal_keeps_the_whole_frame_factor_and_says_so():
    camera = depth_camera(ModelConfig(), 640, 480, FocalLength(1000.0, "--focal"))
    assert camera.depth_factor == 304 / 320 and not camera.focal_rule
    assert "training focal is unknown" in camera.note
    assert camera.intrinsics.fx == 1000.0  # the focal still shapes K


def test_a_longer_focal_means_proportionally_farther():
    model = ModelConfig(train_focal=KINECT_AT_320)
    short = depth_camera(model, 640, 480, FocalLength(500.0, "a"))
    long = depth_camera(model, 640, 480, FocalLength(1500.0, "b"))
    assert long.depth_factor / short.depth_factor == pytest.approx(3.0)
    # the same camera at another resolution is the same factor
    half = depth_camera(model, 320, 240, FocalLength(250.0, "c"))
    assert half.depth_factor == pytest.approx(short.depth_factor)


def test_predict_with_fov_or_focal_scales_the_depth_by_the_focal_rule(trained):
    image = np.zeros((48, 64, 3), np.uint8)
    plain = trained.predict(image)
    np.testing.assert_allclose(plain, 2.0 * 96 / 320, rtol=1e-6)
    f80 = (64 / 2) / math.tan(math.radians(40))
    expected = 2.0 * f80 * 96 / 64 / KINECT_AT_320
    np.testing.assert_allclose(trained.predict(image, fov=80), expected, rtol=1e-6)
    np.testing.assert_allclose(trained.predict(image, focal=f80), expected, rtol=1e-6)


def test_an_exif_focal_written_by_pillow_changes_the_depth_by_the_expected_factor(
    trained, tmp_path
):
    plain = trained.predict(jpeg_with_exif(tmp_path / "plain.jpg"))
    photo = jpeg_with_exif(tmp_path / "phone.jpg", tA405=26)  # FocalLengthIn35mmFilm
    with_exif = trained.infer(photo)
    f_px = 26 * math.hypot(64, 48) / math.hypot(36, 24)
    expected = f_px * 96 / 64 / KINECT_AT_320 / (96 / 320)
    np.testing.assert_allclose(with_exif.depth / plain, expected, rtol=1e-5)
    assert with_exif.intrinsics.fx == pytest.approx(f_px)
    assert with_exif.camera.focal_source == "EXIF FocalLengthIn35mmFilm 26 mm"


def test_exif_focal_length_with_the_sensor_resolution_gives_pixels(tmp_path):
    # 4.25 mm lens, 1000 px per cm on the sensor, written at 128 px wide, stored at 64
    path = jpeg_with_exif(tmp_path / "a.jpg", t920A=4.25, tA20E=1000.0, tA210=3, tA002=128)
    with Image.open(path) as im:
        focal, why = exif_focal(im.getexif(), 64, 48)
    assert why == "" and focal.px == pytest.approx(4.25 * 100 * 64 / 128)


def test_exif_without_a_usable_focal_is_said_and_required_exif_is_a_clear_error(tmp_path):
    path = jpeg_with_exif(tmp_path / "a.jpg", t920A=4.25)  # no sensor size
    with Image.open(path) as im:
        focal, why = exif_focal(im.getexif(), 64, 48)
    assert focal is None and "FocalPlaneXResolution" in why
    with Image.open(path) as im:
        exif = im.getexif()
    assert CameraSpec().focal_length(64, 48, exif) is None  # default: fall back, no error
    with pytest.raises(DataError, match=r"a\.jpg: EXIF FocalLength 4\.25 mm without the sensor"):
        CameraSpec(focal="exif").focal_length(64, 48, exif, name=str(path))


@pytest.mark.parametrize("bad", [0, -5, "nan", "inf", "wide"])
def test_a_focal_that_is_not_a_positive_number_is_refused(bad):
    with pytest.raises(ConfigError, match="positive number of pixels"):
        CameraSpec(focal=bad)


def test_focal_and_fov_together_are_refused_and_fov_is_range_checked():
    with pytest.raises(ConfigError, match="not both"):
        CameraSpec(focal=500, fov=60)
    with pytest.raises(DataError, match="field of view"):
        CameraSpec(fov=180)


def test_intrinsics_know_their_field_of_view_and_matrix():
    k = Intrinsics.from_fov(70.0, 640, 480)
    assert k.fov_x == pytest.approx(70.0)
    assert k.matrix().tolist() == [[k.fx, 0, 319.5], [0, k.fy, 239.5], [0, 0, 1]]
    assert k.scaled(0.5, 0.5).fx == pytest.approx(k.fx / 2)


def test_outputs_say_why_an_exif_focal_could_not_be_used(trained, tmp_path):
    result = trained.infer(jpeg_with_exif(tmp_path / "a.jpg", t920A=4.25))
    assert result.camera.depth_factor == 96 / 320  # the training camera assumed
    assert result.camera.focal_source.startswith("assumed: the training camera's field of view")
    assert "EXIF FocalLength 4.25 mm without the sensor size" in result.camera.focal_source

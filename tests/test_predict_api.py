"""The Python API: msdepth.load(path).predict(image) -> float32 metres at the image's size."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import msdepth
from fake_models import SMALL, constant_checkpoint, random_checkpoint
from msdepth.errors import CheckpointError, DataError


@pytest.fixture
def predictor(tmp_path):
    return msdepth.load(random_checkpoint(tmp_path / "m.safetensors"))


def test_predict_takes_a_path_a_pil_image_or_an_array_and_returns_metres_at_its_size(
    predictor, tmp_path
):
    rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.png")
    from_path = predictor.predict(tmp_path / "x.png")
    from_str = predictor.predict(str(tmp_path / "x.png"))
    from_pil = predictor.predict(Image.fromarray(rgb))
    from_array = predictor.predict(rgb)
    assert from_array.shape == (120, 160) and from_array.dtype == np.float32
    assert np.all(from_array > 0) and np.all(np.isfinite(from_array))
    for other in (from_path, from_str, from_pil):
        np.testing.assert_array_equal(other, from_array)


def test_predict_batch_matches_one_at_a_time_for_images_of_different_sizes(predictor):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(48, 64), (90, 70)]]
    batch = predictor.predict_batch(images)
    assert [d.shape for d in batch] == [(48, 64), (90, 70)]
    for image, depth in zip(images, batch, strict=True):
        np.testing.assert_allclose(depth, predictor.predict(image), rtol=1e-5)


def test_whole_frame_prediction_is_scaled_by_input_over_reference_width(tmp_path):
    path = constant_checkpoint(tmp_path / "c.safetensors", 2.0)
    model = msdepth.load(path)
    depth = model.predict(np.zeros((30, 40, 3), dtype=np.uint8))
    np.testing.assert_allclose(depth, 2.0 * 96 / 320, rtol=1e-6)
    assert model.scale_correction == pytest.approx(96 / 320)


def test_flip_tta_of_a_mirror_symmetric_model_output_keeps_the_prediction(tmp_path):
    model = msdepth.load(constant_checkpoint(tmp_path / "c.safetensors", 3.0))
    image = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_allclose(model.predict(image, flip_tta=True), model.predict(image), rtol=1e-6)


def test_flip_tta_averages_the_image_and_its_mirror_in_log_space(predictor):
    image = np.random.default_rng(3).integers(0, 256, (72, 96, 3), dtype=np.uint8)
    plain = predictor.predict_log_depth([image])[0]
    mirrored = predictor.predict_log_depth([image[:, ::-1].copy()])[0][:, ::-1]
    tta = predictor.predict_log_depth([image], flip_tta=True)[0]
    np.testing.assert_allclose(tta, 0.5 * (plain + mirrored), rtol=1e-5, atol=1e-6)


def test_load_accepts_a_run_folder_and_exposes_config_and_device(tmp_path):
    random_checkpoint(tmp_path / "run" / "model.safetensors")
    model = msdepth.load(tmp_path / "run")
    assert model.device == "cpu"
    assert model.config.model.input_width == SMALL["model.input_width"]
    assert model.input_size == (96, 72)


def test_unsupported_images_are_clear_errors(predictor):
    with pytest.raises(DataError, match="uint8"):
        predictor.predict(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        predictor.predict(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="does not exist"):
        predictor.predict("no/such/image.png")
    with pytest.raises(DataError, match="cannot predict on a list"):
        predictor.predict([1, 2, 3])


def test_a_checkpoint_that_is_not_one_is_a_checkpoint_error(tmp_path):
    (tmp_path / "fake.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"fake\.safetensors"):
        msdepth.load(tmp_path / "fake.safetensors")


def test_importing_msdepth_does_not_import_torch():
    code = "import sys, msdepth; assert 'torch' not in sys.modules; print(msdepth.__version__)"
    src = str(Path(msdepth.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


def test_the_point_cloud_function_is_a_top_level_name():
    points, colors = msdepth.to_point_cloud(np.ones((2, 3), dtype=np.float32))
    assert points.shape == (6, 3) and colors.shape == (6, 3)

"""The whole-frame method shared by predict, evaluate and ONNX: resize, upsample, correct."""

import numpy as np
import pytest
import torch

from msdepth.config import ModelConfig
from msdepth.inference.whole_frame import (
    scale_correction,
    to_metric_depth,
    to_network_input,
    upsample_log_depth,
)


@pytest.mark.parametrize("size", [(480, 640), (240, 320), (100, 37), (55, 74), (20, 30)])
def test_upsampling_equals_torch_bilinear_without_aligned_corners(size):
    log_depth = np.random.default_rng(0).normal(size=(55, 74))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(log_depth)[None, None], size=size, mode="bilinear", align_corners=False
    )[0, 0].numpy()
    np.testing.assert_allclose(upsample_log_depth(log_depth, *size), expected, atol=2e-6)


def test_upsampling_happens_in_log_space():
    log_depth = np.log(np.array([[1.0, 4.0]]))
    mid = to_metric_depth(log_depth, 1, 4, correction=1.0)[0]
    # The geometric mean of 1 and 4 is 2; a linear-space blend would give 2.5 in the middle.
    assert mid[1] == pytest.approx(1.0 * (4.0 ** (0.25)), rel=1e-6)
    assert np.all(np.diff(mid) > 0)


def test_network_input_is_the_whole_frame_resized_to_rgb_in_unit_range():
    rgb = np.zeros((480, 640, 3), dtype=np.uint8)
    rgb[:, 320:] = 255  # right half white
    x = to_network_input(rgb, 304, 228)
    assert x.shape == (3, 228, 304) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert x[:, :, :150].max() == 0.0 and x[:, :, 154:].min() == 1.0  # no crop: edge at the middle


def test_scale_correction_is_input_over_reference_width():
    assert scale_correction(ModelConfig()) == pytest.approx(304 / 320)
    assert scale_correction(ModelConfig(input_width=160, reference_width=160)) == 1.0


def test_metric_depth_is_exp_times_correction_in_float32():
    depth = to_metric_depth(np.full((55, 74), np.log(2.0)), 480, 640, correction=0.95)
    assert depth.shape == (480, 640) and depth.dtype == np.float32
    np.testing.assert_allclose(depth, 1.9, rtol=1e-6)


@pytest.mark.parametrize("size", [(480, 640), (100, 37), (20, 30)])
def test_torch_backend_post_processing_equals_the_numpy_method(size):
    from msdepth.config import Config
    from msdepth.inference.backends import TorchBackend

    backend = TorchBackend(torch.nn.Identity(), Config())
    log_depth = np.random.default_rng(1).normal(size=(55, 74)).astype(np.float32)
    got = backend.metric_depth(log_depth, *size, correction=0.95)
    assert got.shape == size and got.dtype == np.float32
    # Both float32, summed in another order: a few 1e-5 relative (0.02 mm per metre).
    np.testing.assert_allclose(got, to_metric_depth(log_depth, *size, 0.95), rtol=5e-5)

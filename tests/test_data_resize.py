"""Resizing to the stored size: RGB antialiased, depth never blended."""

import numpy as np

from msdepth.data.resize import half_size, resize_depth, resize_rgb, scale_intrinsics


def test_halving_dense_depth_takes_the_block_centre():
    depth = np.arange(1, 48 * 64 + 1, dtype=np.float32).reshape(48, 64)
    assert np.array_equal(resize_depth(depth, (32, 24)), depth[1::2, 1::2])


def test_invalid_centre_takes_a_valid_pixel_of_its_block_never_a_blend():
    depth = np.zeros((4, 4), np.float32)
    depth[0, 0], depth[2, 3] = 2.0, 7.0  # one reading in two of the four 2x2 blocks
    out = resize_depth(depth, (2, 2))
    assert np.array_equal(out, np.array([[2.0, 0.0], [0.0, 7.0]], np.float32))


def test_non_integer_factor_only_copies_source_values():
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 5, (375, 1242)).astype(np.float32)
    depth[rng.uniform(size=depth.shape) < 0.8] = 0  # sparse, like KITTI
    out = resize_depth(depth, (621, 187))
    assert out.shape == (187, 621)
    assert np.isin(out[out > 0], depth).all()
    assert (out > 0).mean() > (depth > 0).mean()  # sparse points survive better than nearest


def test_rgb_is_box_averaged():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = 200
    assert resize_rgb(rgb, (1, 1))[0, 0].tolist() == [50, 50, 50]


def test_half_size_and_intrinsics_follow_the_resize():
    assert half_size(640, 480) == (320, 240) and half_size(1242, 375) == (621, 187)
    k = scale_intrinsics(
        {"fx": 500.0, "fy": 400.0, "cx": 319.5, "cy": 239.5}, (640, 480), (320, 240)
    )
    assert k == {"fx": 250.0, "fy": 200.0, "cx": 159.5, "cy": 119.5}

"""Point clouds: OpenCV camera frame back-projection and PLY files that standard tools open."""

import math

import numpy as np
import pytest

from msdepth.errors import DataError
from msdepth.inference.pointcloud import Intrinsics, save_ply, to_point_cloud


def read_ply(path):
    """A minimal independent PLY reader: (header lines, xyz float32 (N, 3), rgb uint8 (N, 3))."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    count = int(next(line.split()[2] for line in header if line.startswith("element vertex")))
    if "format binary_little_endian 1.0" in header:
        body = np.frombuffer(
            data[end:], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "u1", 3)]
        )
        assert len(body) == count
        return header, np.stack([body["x"], body["y"], body["z"]], 1), body["rgb"]
    rows = np.loadtxt(data[end:].decode("ascii").splitlines(), ndmin=2)
    assert len(rows) == count
    return header, rows[:, :3].astype(np.float32), rows[:, 3:].astype(np.uint8)


def test_pixels_back_project_with_x_right_y_down_z_forward():
    depth = np.zeros((3, 4), dtype=np.float32)
    depth[0, 3] = 2.0  # top right
    k = Intrinsics(fx=2.0, fy=4.0, cx=1.0, cy=1.0)
    points, _ = to_point_cloud(depth, None, k)
    np.testing.assert_allclose(points, [[(3 - 1) * 2.0 / 2.0, (0 - 1) * 2.0 / 4.0, 2.0]])


def test_one_point_per_valid_pixel_coloured_by_the_image():
    depth = np.array([[1.0, 0.0], [np.nan, 2.0]], dtype=np.float32)
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    points, colors = to_point_cloud(depth, rgb, Intrinsics(1, 1, 0, 0))
    assert points.dtype == np.float32 and colors.dtype == np.uint8
    assert len(points) == 2
    np.testing.assert_array_equal(colors, [rgb[0, 0], rgb[1, 1]])


def test_mask_removes_points():
    depth = np.ones((4, 4), dtype=np.float32)
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, :] = True
    points, _ = to_point_cloud(depth, mask=mask)
    assert len(points) == 4


def test_default_intrinsics_are_nyu_kinect_scaled_to_the_image():
    k = Intrinsics.nyu_kinect(320, 240)
    assert (k.fx, k.fy, k.cx, k.cy) == pytest.approx((259.42895, 259.7348, 162.7912, 126.8681))
    assert Intrinsics.nyu_kinect() == Intrinsics(518.8579, 519.4696, 325.5824, 253.7362)


def test_field_of_view_gives_square_pixels_and_a_centred_principal_point():
    k = Intrinsics.from_fov(90.0, 640, 480)
    assert k.fx == pytest.approx(320.0) and k.fy == k.fx
    assert (k.cx, k.cy) == (319.5, 239.5)
    with pytest.raises(DataError, match="field of view"):
        Intrinsics.from_fov(180.0, 640, 480)
    assert math.isfinite(Intrinsics.from_fov(1.0, 10, 10).fx)


def test_colours_of_another_size_are_a_clear_error():
    with pytest.raises(DataError, match="depth's size"):
        to_point_cloud(np.ones((4, 4), np.float32), np.zeros((4, 5, 3), np.uint8))


@pytest.mark.parametrize("binary", [True, False])
def test_ply_header_is_valid_and_the_body_reads_back(tmp_path, binary):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (50, 3), dtype=np.uint8)
    path = save_ply(tmp_path / "c.ply", points, colors, binary=binary)
    header, xyz, rgb = read_ply(path)
    assert header[0] == "ply"
    assert header[1] == ("format binary_little_endian 1.0" if binary else "format ascii 1.0")
    assert "element vertex 50" in header
    props = [line for line in header if line.startswith("property")]
    assert props == [
        "property float x",
        "property float y",
        "property float z",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
    ]
    assert header[-1] == "end_header"
    np.testing.assert_array_equal(xyz, points)
    np.testing.assert_array_equal(rgb, colors)


def test_binary_body_has_exactly_fifteen_bytes_per_vertex(tmp_path):
    path = save_ply(tmp_path / "c.ply", np.zeros((7, 3)), np.zeros((7, 3)))
    data = path.read_bytes()
    assert len(data) - (data.index(b"end_header\n") + 11) == 7 * 15

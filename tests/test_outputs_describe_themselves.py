"""Outputs that say what they are (PNG text chunk, NAME.json, npz), and clean 3D at depth steps."""

import json

import numpy as np
import pytest
from PIL import Image

from fake_models import SMALL, constant_checkpoint
from msdepth.cli.main import main
from msdepth.inference.camera import DepthCamera, Intrinsics
from msdepth.inference.outputs import OutputOptions, write_outputs
from msdepth.inference.pointcloud import to_mesh, to_point_cloud
from msdepth.inference.result import Prediction
from msdepth.inference.whole_frame import upsample_log_depth
from test_pointcloud import read_ply

K = Intrinsics.from_fov(60.0, 80, 60)


def step_depth(near=1.0, far=3.0):
    """A chair edge as the network gives it: a 1 m / 3 m step on the 10x8 output grid,
    upsampled in log space to 80x60, so it ramps across ~8 pixels (the flying pixels)."""
    coarse = np.full((8, 10), np.log(far), np.float32)
    coarse[:, :5] = np.log(near)
    return np.exp(upsample_log_depth(coarse, 60, 80))


def in_gap(z, near=1.0, far=3.0):
    return (z > near * 1.1) & (z < far * 0.9)


def test_a_step_edge_gives_no_points_in_the_gap_unless_edges_are_kept():
    depth = step_depth()
    assert in_gap(depth).sum() > 0  # the ramp is there in the map
    points, _ = to_point_cloud(depth, intrinsics=K)
    assert not in_gap(points[:, 2]).any()
    assert (points[:, 2] < 1.1).sum() > 1000 and (points[:, 2] > 2.7).sum() > 1000  # surfaces kept
    kept, _ = to_point_cloud(depth, intrinsics=K, keep_edges=True)
    assert in_gap(kept[:, 2]).any() and len(kept) == depth.size


def test_a_slanted_floor_is_not_an_edge():
    rows = np.arange(60, dtype=np.float64)[:, None]
    floor = np.repeat(1.5 * K.fy / (rows + 10.0), 80, axis=1)  # a floor up to ~9 m, 1.5 m below
    points, _ = to_point_cloud(floor.astype(np.float32), intrinsics=K)
    assert len(points) == floor.size


def test_the_mesh_has_no_face_across_the_step():
    depth = np.full((60, 80), 3.0, np.float32)
    depth[:, :40] = 1.0  # a hard step: adjacent pixels 1 m and 3 m
    points, _, faces = to_mesh(depth, intrinsics=K)
    z = points[faces][..., 2]  # (M, 3) depths of each face's corners
    assert len(faces) > 0 and np.all(z.max(1) / z.min(1) < 1.1)
    # both surfaces are there: (40 - 1) x 59 quads each side, two triangles per quad
    assert len(faces) == 2 * 2 * 39 * 59
    _, _, joined = to_mesh(depth, intrinsics=K, keep_edges=True)
    assert len(joined) == 2 * 79 * 59


def prediction(depth):
    camera = DepthCamera(K, "--fov 60", 1.25, True)
    return Prediction(depth, camera, model="runs/demo/model.safetensors")


def test_png16_text_chunk_and_json_read_back_with_pillow_and_json_alone(tmp_path):
    depth = step_depth()
    options = OutputOptions(kinds=("png16", "json", "npz", "ply", "mesh"))
    rgb = np.zeros((60, 80, 3), np.uint8)
    write_outputs(tmp_path, "chair", rgb, prediction(depth), options)
    with Image.open(tmp_path / "chair.depth.png") as png:
        chunk = json.loads(png.text["msdepth"])
        mm = np.asarray(png)
    sidecar = json.loads((tmp_path / "chair.json").read_text())
    for meta in (chunk, sidecar):
        assert meta["unit"] == "metre" and meta["png16_per_metre"] == 1000
        assert meta["png16_invalid"] == 0
        assert meta["model"] == "runs/demo/model.safetensors"
        assert meta["focal_px"] == pytest.approx(K.fx) and meta["focal_source"] == "--fov 60"
        assert meta["aligned"] is False
        assert meta["K"] == K.matrix().tolist() and meta["size"] == [80, 60]
    assert sidecar["depth_m"]["min"] == pytest.approx(float(depth.min()))
    assert sidecar["depth_m"]["median"] == pytest.approx(float(np.median(depth)))
    assert sidecar["depth_m"]["max"] == pytest.approx(float(depth.max()))
    np.testing.assert_allclose(mm / 1000.0, depth, atol=5e-4)
    with np.load(tmp_path / "chair.npz") as npz:  # no pickle needed
        np.testing.assert_array_equal(npz["depth"], depth)
        np.testing.assert_array_equal(npz["K"], K.matrix())
        assert json.loads(str(npz["metadata"]))["focal_source"] == "--fov 60"


def test_point_clouds_and_meshes_use_the_depth_s_own_k(tmp_path):
    depth = np.full((60, 80), 2.0, np.float32)
    write_outputs(tmp_path, "w", np.zeros((60, 80, 3), np.uint8), prediction(depth),
                  OutputOptions(kinds=("ply",)))  # fmt: skip
    _, xyz, _ = read_ply(tmp_path / "w.ply")
    assert xyz[:, 0].max() == pytest.approx((79 - K.cx) * 2.0 / K.fx, rel=1e-5)


def test_write_outputs_of_a_step_leaves_the_gap_out_of_the_ply(tmp_path):
    rgb = np.zeros((60, 80, 3), np.uint8)
    for keep in (False, True):
        options = OutputOptions(kinds=("ply",), keep_edges=keep)
        write_outputs(tmp_path, f"k{keep}", rgb, prediction(step_depth()), options)
        _, xyz, _ = read_ply(tmp_path / f"k{keep}.ply")
        assert in_gap(xyz[:, 2]).any() == keep


def test_mesh_ply_has_faces_and_glb_loads_in_trimesh(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    options = OutputOptions(kinds=("mesh", "glb"))
    write_outputs(tmp_path, "m", np.zeros((60, 80, 3), np.uint8), prediction(step_depth()),
                  options)  # fmt: skip
    header = (tmp_path / "m.mesh.ply").read_bytes().split(b"end_header")[0].decode()
    assert "element face" in header and "property list uchar int vertex_indices" in header
    mesh = trimesh.load(tmp_path / "m.mesh.ply", process=False)
    glb = trimesh.load(tmp_path / "m.glb", force="mesh", process=False)
    assert len(glb.faces) == len(mesh.faces) > 0
    np.testing.assert_allclose(glb.vertices[:, 2], -mesh.vertices[:, 2], rtol=1e-5)


def test_predict_writes_json_by_default_and_the_run_json_lists_every_image(tmp_path):
    ckpt = constant_checkpoint(tmp_path / "c.safetensors", 2.0, SMALL)
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    argv = ["predict", "--quiet", "--checkpoint", str(ckpt), str(tmp_path / "a.png"),
            "--out", str(out), "--json", str(tmp_path / "run.json")]  # fmt: skip
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.color.png", "a.json", "a.npy"]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["images"] == 1 and run["per_image"][0]["name"] == "a"
    assert run["per_image"][0]["focal_source"].startswith("assumed")
    meta = json.loads((out / "a.json").read_text())
    assert meta["focal_rule"] is False and "unknown" in meta["note"]


def test_glb_without_trimesh_is_a_clear_error_before_anything_is_written(monkeypatch):
    import sys

    from msdepth.errors import DataError

    monkeypatch.setitem(sys.modules, "trimesh", None)  # as if not installed
    with pytest.raises(DataError, match=r"--save glb needs trimesh: pip install 'msdepth\[mesh\]'"):
        OutputOptions(kinds=("glb",)).check()

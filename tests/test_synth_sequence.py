"""`msdepth synth --sequence`: one room, a smooth hand-held walk, poses that agree with the depth,
and a prepared dataset with an mp4 of the frames (`msdepth.synth.sequence`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from msdepth.cli.main import main
from msdepth.synth.sequence import render_sequence, sequence_scene

SIZE = (80, 60)


def test_a_sequence_is_the_same_bit_for_bit_for_the_same_seed():
    a = list(render_sequence(3, 4, SIZE))
    b = list(render_sequence(3, 4, SIZE))
    for (rgb_a, depth_a, pose_a), (rgb_b, depth_b, pose_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(rgb_a, rgb_b)
        np.testing.assert_array_equal(depth_a, depth_b)
        np.testing.assert_array_equal(pose_a, pose_b)


def test_the_camera_moves_smoothly_like_a_hand_held_one():
    scene, path, _ = sequence_scene(0, 90, SIZE)
    steps = np.linalg.norm(np.diff(path.positions, axis=0), axis=1)
    assert 0.2 < path.length < 2.0  # a slow walk of a few seconds
    assert steps.max() < 0.05  # never more than 5 cm between frames at 30 fps
    turns = np.abs(np.diff(path.angles, axis=0))
    assert turns.max() < np.radians(2.0)  # no jumps of the view
    assert np.ptp(path.angles[:, 0]) > np.radians(2.0)  # but it does look around
    x, y, z = path.positions.T
    assert (
        (x > 0).all() and (z > 0).all() and (x < scene.room[0]).all() and (z < scene.room[2]).all()
    )
    assert ((y > 0.8) & (y < 2.0)).all()


def test_poses_carry_frame_0s_depth_onto_frame_4s():
    scene, _, _ = sequence_scene(1, 5, SIZE)
    frames = list(render_sequence(1, 5, SIZE, sensor=False))
    cam = scene.camera
    (_, z0, pose0), (_, z4, pose4) = frames[0], frames[4]
    v, u = np.nonzero(z0 > 0)
    z = z0[v, u].astype(np.float64)
    points = np.stack([(u - cam.cx) * z / cam.fx, (v - cam.cy) * z / cam.fy, z, np.ones_like(z)])
    in4 = np.linalg.inv(pose4) @ pose0 @ points  # camera 0 -> world -> camera 4
    u4 = np.round(in4[0] * cam.fx / in4[2] + cam.cx).astype(int)
    v4 = np.round(in4[1] * cam.fy / in4[2] + cam.cy).astype(int)
    seen = (in4[2] > 0) & (u4 >= 0) & (u4 < SIZE[0]) & (v4 >= 0) & (v4 < SIZE[1])
    assert seen.mean() > 0.8
    relative = np.abs(z4[v4[seen], u4[seen]] / in4[2][seen] - 1)
    assert np.median(relative) < 0.01  # occlusion edges aside, the same surfaces


def test_fov_gives_the_whole_clip_that_lens_on_the_same_walk():
    kinect, kinect_path, _ = sequence_scene(2, 5, SIZE)
    wide, wide_path, _ = sequence_scene(2, 5, SIZE, fov=90.0)
    np.testing.assert_array_equal(kinect_path.positions, wide_path.positions)
    np.testing.assert_array_equal(kinect_path.angles, wide_path.angles)
    assert wide.camera.fx == pytest.approx(SIZE[0] / 2)  # tan(45 degrees) = 1
    assert kinect.camera.fx != pytest.approx(wide.camera.fx)


def test_synth_sequence_writes_a_dataset_poses_and_an_mp4(tmp_path, capsys):
    av = pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    out = tmp_path / "walk"
    code = main(["synth", "--sequence", "6", "--out", str(out), "--size", "80x60", "--quiet",
                 "--fps", "15"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sequence"]["frames"] == 6 and meta["sequence"]["fps"] == 15
    assert list(meta["splits"]) == ["test"] and meta["splits"]["test"]["count"] == 6
    poses = np.load(out / "test" / "poses.npy")
    assert poses.shape == (6, 4, 4)
    np.testing.assert_allclose(poses[:, :3, :3] @ poses[:, :3, :3].transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), (6, 3, 3)), atol=1e-5)  # fmt: skip
    rgb = np.load(out / "test" / "rgb.npy")
    with av.open(str(out / "frames.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (80, 60, 15)
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 6
    assert np.abs(decoded[3].astype(int) - rgb[3]).mean() < 8  # the same frames, H.264 crf 18


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sequence", "1"], "at least 2 frames"),
        (["--sequence", "5", "--train", "3"], "drop --train/--val/--test"),
        (["--sequence", "5", "--fps", "0"], "--fps must be at least 1"),
        (["--sequence", "5", "--fov", "45:80"], "has one camera"),
    ],
)
def test_bad_sequence_requests_are_one_line_errors(tmp_path, capsys, extra, message):
    code = main(["synth", "--out", str(tmp_path / "s"), "--size", "80x60", "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "s").exists()


def test_evaluate_reports_flicker_on_a_sequence(tmp_path, capsys):
    pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
    from fake_models import random_checkpoint

    data = tmp_path / "walk"
    assert main(["synth", "--sequence", "8", "--out", str(data), "--size", "80x60", "--quiet",
                 "--clean-depth"]) == 0  # fmt: skip
    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    reports = {}
    for flag in ([], ["--stabilize"]):
        report = tmp_path / f"r{len(flag)}.json"
        argv = ["evaluate", "--quiet", "--device", "cpu", "--checkpoint", str(ckpt), "--data",
                str(data), "--crop", "none", "--json", str(report), *flag]  # fmt: skip
        assert main(argv) == 0
        assert "flicker" in capsys.readouterr().out
        reports[bool(flag)] = json.loads(report.read_text())
    per_frame, stabilized = reports[False]["flicker"], reports[True]["flicker"]
    assert per_frame["pairs"] == 7 and per_frame["mean"] > 0
    assert stabilized["mean"] < per_frame["mean"]
    assert reports[True]["settings"]["stabilize"] is True


def test_stabilize_on_data_that_is_not_a_sequence_is_a_one_line_error(tiny_dataset, capsys):
    from fake_models import random_checkpoint

    ckpt = random_checkpoint(tiny_dataset.parent / "m.safetensors")
    code = main(["evaluate", "--quiet", "--checkpoint", str(ckpt), "--data", str(tiny_dataset),
                 "--stabilize"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--stabilize needs a sequence" in err

"""`msdepth quickstart`: the whole walk end to end at toy size."""

import json

import pytest

from msdepth.cli.main import main

TINY = [
    "--set", "model.input_width=96", "--set", "model.input_height=72",
    "--set", "train.coarse_steps=6", "--set", "train.fine_steps=4",
    "--set", "train.batch_size=4", "--set", "train.workers=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(module_tmp):
    """A toy quickstart (96x72 network, 10 steps in all: no useful model) and its stdout."""
    import contextlib
    import io

    out = module_tmp / "demo"
    argv = ["quickstart", "--out", str(out), "--minutes", "5", "--train-images", "16"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*argv, "--test-images", "6", "--quiet", *TINY])
    assert code == 0
    return out, stdout.getvalue()


@pytest.mark.slow
def test_quickstart_runs_the_whole_walk_and_reports(demo):
    out, stdout = demo
    report = json.loads((out / "report.json").read_text())
    rows = report["synthetic_test"]
    assert {"coarse", "coarse + fine"} <= set(rows)
    assert any(label.startswith("constant") for label in rows)
    assert all(0.0 <= m["delta1"] <= 1.0 for m in rows.values())
    assert report["stages"]["coarse"]["steps"] == 6 and report["stages"]["fine"]["steps"] == 4
    assert (out / "run" / "model.safetensors").is_file()
    assert len(report["panels"]) == 4 and all((out / "predictions").iterdir())
    assert "Held-out synthetic rooms" in stdout
    plan = report["plan"]
    assert plan["coarse"]["probe_images_per_second"] > 0 and plan["fine"]["val_images"] >= 1


@pytest.mark.slow
def test_a_model_that_does_not_beat_the_constant_says_so_first(demo):
    out, _ = demo
    first = (out / "report.md").read_text().splitlines()[0]
    assert first.startswith("WARNING: the model does not beat a constant depth on")
    assert "images/s" in first


def test_the_plan_turns_seconds_and_speed_into_steps():
    from msdepth.quickstart import plan_steps, validation_images

    assert plan_steps(60.0, 8.0, 16) == 30  # 480 images in a minute, batches of 16
    assert plan_steps(0.0, 8.0, 16) == 0
    # a slow machine validates on fewer images than a fast one, never fewer than 16
    slow, fast = validation_images(100, 6.0, 100, 8), validation_images(100, 90.0, 100, 8)
    assert 16 <= slow < fast == 100


def test_quickstart_refuses_a_missing_real_folder(tmp_path, capsys):
    code = main(["quickstart", "--out", str(tmp_path / "d"), "--real", str(tmp_path / "nope")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_the_warning_says_how_many_minutes_the_learning_curve_needs():
    from msdepth.quickstart import _verdict, images_to_beat_constant

    needed = images_to_beat_constant()  # the measured curve of the quick recipe
    assert needed == 1000
    stages = {"coarse": {"images": 80, "images_per_second": 1.0}}  # 80 s of a slow machine
    line = _verdict(["rmse"], stages, batch=8, budget=120.0)
    assert line.startswith("WARNING: the model does not beat a constant depth on rmse")
    assert "at 1.0 images/s" in line and "after 1000 images" in line
    assert "--minutes 20 on this machine" in line  # 1000 s training, 8% evaluation, 1 min set-up


def test_a_stage_never_runs_into_the_time_set_aside_for_what_follows():
    from msdepth.quickstart import stage_limit

    assert stage_limit(100.0, 10.0, 1000.0) == pytest.approx(125.0)  # the plan, 10% slack
    # a stage planned at the probe's speed, with less room than plan + slack (the make demo of
    # 2026-12-02 ran its coarse stage 11% slower than its probe and ended 12 s over 600)
    assert stage_limit(477.6, 11.8, 523.0) == pytest.approx(523.0)
    assert stage_limit(50.0, 5.0, -20.0) == 3.0  # no room left: the shortest stage

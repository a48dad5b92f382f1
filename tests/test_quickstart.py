"""`msdepth quickstart`: the whole walk end to end at toy size."""

import json

import pytest

from msdepth.cli.main import main

TINY = [
    "--set", "model.input_width=96", "--set", "model.input_height=72",
    "--set", "train.coarse_steps=6", "--set", "train.fine_steps=4",
    "--set", "train.batch_size=4", "--set", "train.workers=0",
]  # fmt: skip


@pytest.mark.slow
def test_quickstart_runs_the_whole_walk_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["quickstart", "--out", str(out), "--minutes", "5", "--train-images", "16"]
    code = main([*argv, "--test-images", "6", "--quiet", *TINY])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    rows = report["synthetic_test"]
    assert {"coarse", "coarse + fine"} <= set(rows)
    assert any(label.startswith("constant") for label in rows)
    assert all(0.0 <= m["delta1"] <= 1.0 for m in rows.values())
    assert report["stages"]["coarse"]["steps"] == 6 and report["stages"]["fine"]["steps"] == 4
    assert (out / "run" / "model.safetensors").is_file()
    assert len(report["panels"]) == 4 and all((out / "predictions").iterdir())
    assert "Held-out synthetic rooms" in capsys.readouterr().out


def test_quickstart_refuses_a_missing_real_folder(tmp_path, capsys):
    code = main(["quickstart", "--out", str(tmp_path / "d"), "--real", str(tmp_path / "nope")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]

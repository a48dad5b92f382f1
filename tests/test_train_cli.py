"""`msdepth train`: flags reach the config, the run folder is complete, user errors are one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from msdepth.checkpoint import read_info
from msdepth.cli.main import main
from msdepth.config import Config
from train_fixtures import tiny_data

SRC = Path(__file__).resolve().parents[1] / "src"
TINY_FLAGS = [
    "--set",
    "model.input_width=96",
    "--set",
    "model.input_height=72",
    "--set",
    "train.tensorboard=false",
    "--batch-size",
    "4",
    "--workers",
    "0",
    "--no-progress",
]


@pytest.fixture(scope="module")
def data(module_tmp):
    return tiny_data(module_tmp / "data")


def test_train_command_runs_both_stages_and_saves_the_resolved_config(data, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "msdepth", "train", "--data", str(data), "--out", str(run)]
    flags = ["--steps", "2", "--lr-scale", "0.5", "--seed", "7", "--precision", "bf16"]
    proc = subprocess.run(
        [*cmd, *flags, *TINY_FLAGS], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "coarse: 2/2 steps" in proc.stdout and "fine: 2/2 steps" in proc.stdout
    saved = Config.from_toml(run / "config.toml")
    assert (saved.optim.lr_scale, saved.train.seed, saved.train.precision) == (0.5, 7, "bf16")
    assert (saved.train.coarse_steps, saved.train.fine_steps) == (2, 2)
    assert read_info(run).stage == "fine"


def test_config_file_then_set_then_flags(data, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("[train]\ncoarse_steps = 1\nbatch_size = 2\nseed = 3\n")
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--stage", "coarse"]
    code = main([*argv, "--config", str(config), *TINY_FLAGS])  # TINY_FLAGS: --batch-size 4
    assert code == 0
    saved = Config.from_toml(run / "config.toml")
    assert (saved.train.coarse_steps, saved.train.batch_size, saved.train.seed) == (1, 4, 3)


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    err = _error(capsys, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert "nope" in err and "prepare" in err


def test_unknown_config_key_is_a_one_line_error(data, tmp_path, capsys):
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--set", "train.speed=9"]
    assert "train.speed" in _error(capsys, argv)


def test_cuda_without_cuda_is_a_one_line_error(data, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--device", "cuda"]
    assert "--device cpu" in _error(capsys, argv)


def test_missing_init_checkpoint_is_a_one_line_error(data, tmp_path, capsys):
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--stage", "fine"]
    err = _error(capsys, [*argv, "--init", str(tmp_path / "coarse.safetensors"), *TINY_FLAGS])
    assert "coarse.safetensors" in err


def test_diverging_run_exits_non_zero_with_advice(data, tmp_path, capsys):
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--stage", "coarse"]
    flags = ["--steps", "6", "--lr-scale", "1e6", "--set", "train.log_every=1"]
    err = _error(capsys, [*argv, *flags, *TINY_FLAGS])
    assert "coarse step" in err and "--lr-scale" in err


def test_resume_flag_continues_the_run_in_out(data, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--stage", "coarse", *TINY_FLAGS]
    assert main([*argv, "--steps", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(run), "--resume", "--no-progress"]) == 0
    assert "coarse: already finished" in capsys.readouterr().out

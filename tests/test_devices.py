"""`--device auto` finds the GPU by itself and falls back to the CPU; bad names are one line."""

import pytest
import torch

from msdepth.cli.main import main
from msdepth.devices import describe_device, resolve_device
from msdepth.errors import ConfigError


def test_auto_resolves_to_cuda_where_pytorch_sees_it_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_auto_under_torchrun_takes_the_gpu_of_local_rank(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda", 3)


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        ConfigError, match=r"device .cuda. is not available.*no CUDA GPU.*--device cpu"
    ):
        resolve_device("cuda")


def test_a_name_that_is_no_device_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"'gpu0' is not a device name; use auto, cpu"):
        resolve_device("gpu0")


def test_the_cpu_is_described_with_its_capability():
    text = describe_device(torch.device("cpu"))
    assert text.startswith("cpu (") and torch.backends.cpu.get_cpu_capability() in text


def test_train_prints_the_device_auto_chose(tmp_path, capsys):
    from train_fixtures import tiny_data

    data = tiny_data(tmp_path / "data", n_train=8)
    sets = {"model.input_width": 96, "model.input_height": 72, "train.batch_size": 4,
            "train.workers": 0, "train.tensorboard": "false"}  # fmt: skip
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--steps", "1",
            "--stage", "coarse", *[f"--set={k}={v}" for k, v in sets.items()]]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert out.splitlines()[0].startswith(f"device: {expected}")

"""Checkpoints: safetensors weights with the config inside; clear errors."""

import pytest
import torch

from msdepth.checkpoint import load_model, read_info, resolve_checkpoint, save_model
from msdepth.config import Config
from msdepth.errors import CheckpointError
from msdepth.models import MultiScaleDepth


def test_round_trip_rebuilds_the_same_model(tmp_path):
    cfg = Config().with_overrides({"model.input_width": 160, "model.input_height": 120})
    model = MultiScaleDepth(cfg.model, stage="fine").eval()
    path = save_model(tmp_path / "m.safetensors", model, cfg, "fine", 12, {"abs_rel": 0.2})
    loaded, info = load_model(path)
    assert info.step == 12 and info.stage == "fine" and info.config == cfg
    assert info.metrics == {"abs_rel": 0.2}
    x = torch.rand(1, 3, 120, 160)
    assert torch.equal(model(x), loaded(x))


def test_run_folder_resolves_to_its_model(tmp_path):
    model = MultiScaleDepth()
    save_model(
        tmp_path / "checkpoints" / "coarse-00000010.safetensors", model, Config(), "coarse", 10
    )
    assert resolve_checkpoint(tmp_path).name == "coarse-00000010.safetensors"
    save_model(tmp_path / "model.safetensors", model, Config(), "fine", 20)
    assert resolve_checkpoint(tmp_path).name == "model.safetensors"


def test_truncated_or_foreign_files_are_clear_errors(tmp_path):
    path = save_model(tmp_path / "m.safetensors", MultiScaleDepth(), Config(), "fine", 1)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors"):
        load_model(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        read_info(tmp_path / "junk.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")

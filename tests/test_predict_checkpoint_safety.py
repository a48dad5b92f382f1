"""Checkpoints load safely: safetensors only, never pickle; foreign geometry and tampering are
`CheckpointError`s naming the file."""

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

import msdepth
from fake_models import SMALL, random_checkpoint
from msdepth.checkpoint import save_model
from msdepth.config import Config
from msdepth.errors import CheckpointError
from msdepth.models import MultiScaleDepth


def test_weights_of_another_geometry_are_refused(tmp_path):
    small = Config().with_overrides(SMALL)
    paper_model = MultiScaleDepth(Config().model)
    path = save_model(tmp_path / "m.safetensors", paper_model, small, "fine", 1)
    with pytest.raises(CheckpointError, match=r"m\.safetensors does not match the geometry"):
        msdepth.load(path)


def test_a_tensor_of_the_wrong_shape_is_refused(tmp_path):
    cfg = Config().with_overrides(SMALL)
    state = {k: v.contiguous() for k, v in MultiScaleDepth(cfg.model).state_dict().items()}
    state["fine.fine4.weight"] = torch.zeros(1, 64, 3, 3)
    meta = {"format": "msdepth-checkpoint", "config": cfg.to_json(), "stage": "fine", "step": "1"}
    save_file(state, str(tmp_path / "m.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match=r"shape of fine\.fine4\.weight"):
        msdepth.load(tmp_path / "m.safetensors")


def test_a_tampered_config_header_is_refused(tmp_path):
    path = random_checkpoint(tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    header["__metadata__"]["config"] = '{"model": {"input_width": "wide"}}'
    text = json.dumps(header).encode()
    assert len(text) <= header_len  # the new config is shorter: pad to keep the offsets
    data[8 : 8 + header_len] = text + b" " * (header_len - len(text))
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt metadata"):
        msdepth.load(path)


class _Exploit:
    def __reduce__(self):
        return (open, ("PWNED", "w"))


def test_a_pickle_is_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(_Exploit()))
    torch.save({"x": torch.zeros(1)}, tmp_path / "legacy.pt")
    for name in ("evil.safetensors", "legacy.pt"):
        with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
            msdepth.load(tmp_path / name)
    assert not (tmp_path / "PWNED").exists()

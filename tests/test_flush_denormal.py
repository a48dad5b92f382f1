"""Training flushes subnormal floats to zero (AdamW's decayed state otherwise runs 2x slower)."""

import torch

from msdepth.speed import flushing_denormals
from msdepth.train import train, trainer
from train_fixtures import tiny_config, tiny_data

SUBNORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


def _flushed() -> bool:
    return (torch.tensor([SUBNORMAL]) * 1.0).item() == 0.0


def test_flushing_denormals_holds_for_the_block_only():
    assert not _flushed()
    with flushing_denormals():
        assert _flushed()
    assert not _flushed()
    with flushing_denormals(False):
        assert not _flushed()


def test_training_runs_with_subnormals_flushed(tmp_path, monkeypatch):
    seen = []
    real_validate = trainer.validate

    def recording_validate(*args, **kwargs):
        seen.append(_flushed())
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(trainer, "validate", recording_validate)
    cfg = tiny_config(train__coarse_steps=2, train__fine_steps=1)
    train(cfg, tiny_data(tmp_path / "data"), tmp_path / "run", stages=("coarse",), progress=False)
    assert seen and all(seen)
    assert not _flushed()  # and restored afterwards

"""--resume continues exactly: a resumed run equals an uninterrupted one, bit for bit on CPU."""

import shutil

import pytest
import torch

from msdepth.checkpoint import list_checkpoints
from msdepth.errors import CheckpointError, ConfigError
from msdepth.train import train
from msdepth.train.state import load_train_state, state_path
from train_fixtures import digest, tiny_config, tiny_data


@pytest.fixture(scope="module")
def uninterrupted(module_tmp):
    """Coarse 6 + fine 6 steps with checkpoints every 3 (dropout active in the coarse stage)."""
    root = module_tmp
    data = tiny_data(root / "data")
    result = train(tiny_config(), data, root / "full", progress=False)
    return result, root / "full", data


def _interrupt(full, to, keep):
    """A copy of a run folder as if it had crashed after writing the checkpoints in ``keep``."""
    shutil.copytree(full, to)
    (to / "model.safetensors").unlink()
    for path in list_checkpoints(to):
        if path.name not in keep:
            for p in (path, path.with_suffix(".json"), state_path(path)):
                p.unlink()
    return to


def test_resume_mid_coarse_equals_the_uninterrupted_run(uninterrupted, tmp_path):
    result, full, data = uninterrupted
    run = _interrupt(full, tmp_path / "run", keep={"coarse-00000003.safetensors"})
    resumed = train(None, data, run, resume=True, progress=False)
    for name in ("coarse-00000006.safetensors", "fine-00000006.safetensors"):
        assert digest(run / "checkpoints" / name) == digest(full / "checkpoints" / name)
    assert resumed.stages["coarse"].loss_history == result.stages["coarse"].loss_history
    a = load_train_state(state_path(full / "checkpoints" / "coarse-00000006.safetensors"))
    b = load_train_state(state_path(run / "checkpoints" / "coarse-00000006.safetensors"))
    assert torch.equal(a.rng_cpu[0], b.rng_cpu[0])


def test_resume_mid_fine_equals_the_uninterrupted_run(uninterrupted, tmp_path):
    result, full, data = uninterrupted
    keep = {"coarse-00000006.safetensors", "fine-00000003.safetensors"}
    run = _interrupt(full, tmp_path / "run", keep)
    resumed = train(None, data, run, resume=True, progress=False)
    assert resumed.stages["coarse"].skipped
    assert digest(run / "model.safetensors") == digest(full / "model.safetensors")
    assert resumed.stages["fine"].loss_history == result.stages["fine"].loss_history


def test_resuming_a_finished_run_changes_nothing(uninterrupted, tmp_path):
    _, full, data = uninterrupted
    run = tmp_path / "run"
    shutil.copytree(full, run)
    before = digest(run / "model.safetensors")
    resumed = train(None, data, run, resume=True, progress=False)
    assert resumed.stages["fine"].skipped and digest(run / "model.safetensors") == before


def test_resume_refuses_another_batch_size(uninterrupted, tmp_path):
    _, full, data = uninterrupted
    run = tmp_path / "run"
    shutil.copytree(full, run)
    with pytest.raises(ConfigError, match=r"train.batch_size = 4.*8"):
        train(tiny_config(train__batch_size=8), data, run, resume=True, progress=False)


@pytest.mark.slow
def test_resume_may_change_how_often_it_logs_and_validates(uninterrupted, tmp_path):
    _, full, data = uninterrupted
    run = _interrupt(full, tmp_path / "run", keep={"coarse-00000003.safetensors"})
    cfg = tiny_config(train__log_every=1, train__val_every=1, train__workers=1)
    train(cfg, data, run, resume=True, progress=False)
    # the same training, step for step (model.safetensors is the best *validated* state, and
    # validating at other steps may keep another one)
    last = run / "checkpoints" / "fine-00000006.safetensors"
    assert digest(last) == digest(full / "checkpoints" / "fine-00000006.safetensors")


def test_a_run_killed_mid_stage_resumes_to_the_same_weights(uninterrupted, tmp_path, monkeypatch):
    import msdepth.train.trainer as trainer

    _, full, data = uninterrupted
    real_loss, calls = trainer.scale_invariant_loss, []

    def interrupted_at_step_5(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(trainer, "scale_invariant_loss", interrupted_at_step_5)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(), data, run, progress=False)
    monkeypatch.setattr(trainer, "scale_invariant_loss", real_loss)
    assert [p.name for p in list_checkpoints(run)] == ["coarse-00000003.safetensors"]
    train(None, data, run, resume=True, progress=False)
    assert digest(run / "model.safetensors") == digest(full / "model.safetensors")


def test_resume_without_checkpoints_is_an_error(tmp_path):
    data = tiny_data(tmp_path / "data")
    with pytest.raises(CheckpointError, match=r"config\.toml"):
        train(None, data, tmp_path / "empty", resume=True, progress=False)


def test_train_state_loads_without_unpickling_code(uninterrupted):
    _, full, _ = uninterrupted
    path = state_path(full / "checkpoints" / "coarse-00000006.safetensors")
    payload = torch.load(path, weights_only=True)  # raises on anything but plain data
    assert payload["step"] == 6 and payload["finished"] is True
    assert payload["optimizer"]["state"]  # momentum buffers are saved

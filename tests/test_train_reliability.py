"""Training never loses a run: kill -9, a full disk, divergence and untrusted state files.

Complements tests/test_train_resume.py (in-process interruptions, exact resume) with real
SIGKILLs of a `msdepth train` subprocess at chosen steps, a disk that fills up while a
checkpoint is written, `--detect-anomaly`, and malicious or damaged files in the run folder.
"""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import bad_inputs as bad
from msdepth.checkpoint import list_checkpoints, load_model, read_info
from msdepth.cli.main import main
from msdepth.errors import CheckpointError
from msdepth.train import train
from msdepth.train.state import state_path
from train_fixtures import digest, tiny_config, tiny_data

SRC = Path(__file__).resolve().parents[1] / "src"

# Installed in the child: announce each finished step and each written checkpoint/state file,
# and pause at KILL_AT so the parent's SIGKILL lands exactly there.
HOOKS = r"""
import os, sys, time
import msdepth.train.trainer as trainer

def announce(marker):
    print(marker, flush=True)
    if marker == os.environ["KILL_AT"]:
        time.sleep(60)

train_step = trainer.Trainer._train_step
def hooked_step(self, s):
    result = train_step(self, s)
    announce(f"{s.name} step {s.step + 1}")
    return result
trainer.Trainer._train_step = hooked_step

save_model = trainer.save_model
def hooked_save_model(path, *args, **kwargs):
    result = save_model(path, *args, **kwargs)
    announce(f"saved {os.path.basename(path)}")
    return result
trainer.save_model = hooked_save_model

from msdepth.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def reference(module_tmp):
    """An uninterrupted run (coarse 4 + fine 3, checkpoints every 2) and its config file."""
    root = module_tmp
    data = tiny_data(root / "data", n_train=8)
    config = root / "tiny.toml"
    short = tiny_config(
        train__coarse_steps=4,
        train__fine_steps=3,
        train__checkpoint_every=2,
        train__val_every=100,
        train__panel_every=100,
    )
    config.write_text(short.to_toml())
    argv = ["train", "--data", str(data), "--config", str(config), "--no-progress"]
    assert main([*argv, "--out", str(root / "full")]) == 0
    return root / "full", argv


def _kill_at(marker: str, argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "KILL_AT": marker}
    child = subprocess.Popen([sys.executable, "-c", HOOKS, *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        for line in child.stdout:
            if line.strip() == marker:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the run ended before {marker!r}")
    finally:
        child.wait(timeout=300)
        child.stdout.close()


KILL_POINTS = [
    "saved coarse-00000002.safetensors",  # weights written, state not: --resume starts over
    "coarse step 3",  # between checkpoints
    "fine step 2",  # in the second stage
]


@pytest.mark.slow
@pytest.mark.parametrize("marker", KILL_POINTS)
def test_train_killed_resumes_to_the_uninterrupted_weights(reference, tmp_path, marker):
    full, argv = reference
    run = tmp_path / "run"
    _kill_at(marker, [*argv, "--out", str(run)])
    model = run / "model.safetensors"
    assert not model.exists() or read_info(model).stage == "coarse"  # no fine model yet
    assert main([*argv, "--out", str(run), "--resume"]) == 0  # the one command after any crash
    for name in ("coarse-00000004.safetensors", "fine-00000003.safetensors"):
        assert digest(run / "checkpoints" / name) == digest(full / "checkpoints" / name)
    assert digest(run / "model.safetensors") == digest(full / "model.safetensors")


@pytest.mark.slow
def test_disk_full_during_a_checkpoint_keeps_the_last_one_and_the_run_resumes(
    reference, tmp_path, capsys, monkeypatch
):
    import msdepth.checkpoint as checkpoint

    full, argv = reference
    run = tmp_path / "run"
    real_save, calls = checkpoint.save_file, []

    def full_disk_on_second_checkpoint(state, filename, metadata=None):
        calls.append(filename)
        real_save(state, filename, metadata=metadata)
        if len(calls) == 2:  # coarse-00000004: half of it reaches the disk
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)

    monkeypatch.setattr(checkpoint, "save_file", full_disk_on_second_checkpoint)
    assert main([*argv, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["coarse-00000002.json", "coarse-00000002.safetensors",
                     "coarse-00000002.state.pt"]  # fmt: skip
    assert load_model(run / "checkpoints" / "coarse-00000002.safetensors")[1].step == 2

    monkeypatch.setattr(checkpoint, "save_file", real_save)  # space freed
    assert main([*argv, "--out", str(run), "--resume"]) == 0
    assert digest(run / "model.safetensors") == digest(full / "model.safetensors")


def test_divergence_names_the_step_the_cause_and_the_checkpoint_kept(tmp_path, capsys, monkeypatch):
    import msdepth.train.trainer as trainer

    real_loss, calls = trainer.scale_invariant_loss, []

    def nan_from_step_5(*args, **kwargs):
        calls.append(1)
        loss = real_loss(*args, **kwargs)
        return loss * math.inf if len(calls) >= 5 else loss

    monkeypatch.setattr(trainer, "scale_invariant_loss", nan_from_step_5)
    data = tiny_data(tmp_path / "data", n_train=8)
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny_config(train__checkpoint_every=2, train__val_every=100).to_toml())
    argv = ["train", "--data", str(data), "--config", str(cfg), "--out", str(tmp_path / "run"),
            "--no-progress", "--stage", "coarse"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "became inf at coarse step 5" in err and "coarse-00000004.safetensors" in err
    assert "--lr-scale" in err
    kept = tmp_path / "run" / "checkpoints" / "coarse-00000004.safetensors"
    model, _ = load_model(kept)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_detect_anomaly_names_the_operation_and_step(tmp_path, capsys, monkeypatch):
    import msdepth.train.trainer as trainer

    real_loss, calls = trainer.scale_invariant_loss, []

    def sqrt_of_negative_at_step_3(pred, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            pred = torch.sqrt(pred - pred.detach() - 1.0)  # NaN in the forward and backward
        return real_loss(pred, *args, **kwargs)

    monkeypatch.setattr(trainer, "scale_invariant_loss", sqrt_of_negative_at_step_3)
    data = tiny_data(tmp_path / "data", n_train=8)
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny_config(train__checkpoint_every=2, train__val_every=100).to_toml())
    argv = ["train", "--data", str(data), "--config", str(cfg), "--out", str(tmp_path / "run"),
            "--no-progress", "--stage", "coarse", "--detect-anomaly"]  # fmt: skip
    with pytest.warns(UserWarning, match="Error detected in"):  # the forward trace, for debugging
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(r"the gradient of \w+Backward\d became nan at coarse step 3", err)
    assert "coarse-00000002.safetensors" in err


# ---- untrusted and damaged files in a run folder ---------------------------------------------------


@pytest.fixture
def run_copy(reference, tmp_path):
    import shutil

    full, argv = reference
    run = tmp_path / "run"
    shutil.copytree(full, run)
    (run / "model.safetensors").unlink()
    for p in list_checkpoints(run, "fine"):
        for f in (p, p.with_suffix(".json"), state_path(p)):
            f.unlink()
    return run, argv


def test_a_malicious_state_file_is_never_unpickled_on_resume(run_copy, tmp_path, capsys):
    run, argv = run_copy
    marker = tmp_path / "PWNED"
    newest = list_checkpoints(run)[-1]
    bad.malicious_torch_file(state_path(newest), marker)
    assert main([*argv, "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"{state_path(newest).name} is not a readable train state" in err
    assert err.count("\n") == 1 and not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [{"format": "msdepth-train-state"},
     {"format": "msdepth-train-state", "stage": "coarse", "step": "x", "optimizer": [],
      "rng_cpu": torch.zeros(1, 4), "rng_cuda": torch.empty(0), "best_abs_rel": 1.0,
      "loss_history": torch.zeros(0, 2), "finished": False}],
    ids=["missing-keys", "wrong-types"],
)  # fmt: skip
def test_a_damaged_state_file_is_a_one_line_error(run_copy, capsys, payload):
    run, argv = run_copy
    torch.save(payload, state_path(list_checkpoints(run)[-1]))
    assert main([*argv, "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "is a damaged train state" in err and err.count("\n") == 1


def test_resume_refuses_tampered_weights(run_copy, capsys):
    run, argv = run_copy
    newest = list_checkpoints(run)[-1]
    data = bytearray(newest.read_bytes())
    data[-16:] = bytes(16)
    newest.write_bytes(bytes(data))
    assert main([*argv, "--out", str(run), "--resume"]) == 2
    assert f"{newest.name} is damaged" in capsys.readouterr().err


def test_fine_stage_init_from_a_checkpoint_of_another_geometry_is_refused(reference, tmp_path):
    full, _ = reference
    data = tiny_data(tmp_path / "data", n_train=8)
    cfg = tiny_config(model__input_width=128, model__input_height=96)
    with pytest.raises(CheckpointError, match=r"trained at input 96x72, this run uses 128x96"):
        train(cfg, data, tmp_path / "run", stages="fine", init=full, progress=False)

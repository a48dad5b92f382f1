"""Two CPU processes under torchrun (gloo): ranks agree on the weights, and --resume works."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from msdepth.checkpoint import list_checkpoints
from msdepth.train.state import load_train_state, state_path
from train_fixtures import digest, tiny_data

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[1] / "src"
TESTS = Path(__file__).resolve().parent

# Runs `train` on every rank and records, on every rank, a hash of the weights it holds at
# each checkpoint (test-only instrumentation: production code writes from rank 0 alone).
DRIVER = textwrap.dedent(
    """
    import hashlib, os, sys
    from pathlib import Path
    import torch
    import msdepth.train.trainer as trainer
    from msdepth.train import train
    from train_fixtures import tiny_config

    data, run, resume = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "resume"
    original = trainer.Trainer._checkpoint

    def recording_checkpoint(self, stage, *args, **kwargs):
        h = hashlib.sha256()
        for name, t in sorted(stage.model.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        folder = run / "rank-digests"
        folder.mkdir(parents=True, exist_ok=True)
        rank = os.environ["RANK"]
        (folder / f"{stage.name}-{stage.step:08d}.rank{rank}").write_text(h.hexdigest())
        return original(self, stage, *args, **kwargs)

    trainer.Trainer._checkpoint = recording_checkpoint
    cfg = tiny_config(train__batch_size=2, train__coarse_steps=4, train__fine_steps=4,
                      train__checkpoint_every=2, train__val_every=2)
    train(None if resume else cfg, data, run, resume=resume, progress=False)
    """
)


def _torchrun(tmp_path, data, run, mode="fresh"):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{TESTS}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(
        [*cmd, str(driver), str(data), str(run), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def ddp_run(module_tmp):
    root = module_tmp
    data = tiny_data(root / "data")
    _torchrun(root, data, root / "run")
    return root, data, root / "run"


def test_both_ranks_hold_the_same_weights_at_every_checkpoint(ddp_run):
    _, _, run = ddp_run
    stamps = sorted({p.name.rsplit(".", 1)[0] for p in (run / "rank-digests").iterdir()})
    assert stamps == [
        "coarse-00000002",
        "coarse-00000004",
        "fine-00000002",
        "fine-00000004",
    ]
    for stamp in stamps:
        rank0 = (run / "rank-digests" / f"{stamp}.rank0").read_text()
        rank1 = (run / "rank-digests" / f"{stamp}.rank1").read_text()
        assert rank0 == rank1, stamp


def test_rank_0_checkpoint_equals_rank_1_weights(ddp_run):
    _, _, run = ddp_run
    for path in list_checkpoints(run):
        stamp = path.name.removesuffix(".safetensors")
        assert digest(path) == (run / "rank-digests" / f"{stamp}.rank1").read_text()


def test_state_keeps_one_rng_state_per_rank(ddp_run):
    _, _, run = ddp_run
    state = load_train_state(state_path(run / "checkpoints" / "coarse-00000002.safetensors"))
    assert state.world_size == 2
    assert not (state.rng_cpu[0] == state.rng_cpu[1]).all()  # dropout differs between ranks


def test_resume_under_torchrun_reaches_the_uninterrupted_weights(ddp_run, tmp_path):
    _, data, full = ddp_run
    run = tmp_path / "run"
    shutil.copytree(full, run, ignore=shutil.ignore_patterns("rank-digests"))
    (run / "model.safetensors").unlink()
    for path in list_checkpoints(run):
        if path.name != "coarse-00000002.safetensors":
            for p in (path, path.with_suffix(".json"), state_path(path)):
                p.unlink()
    _torchrun(tmp_path, data, run, mode="resume")
    assert digest(run / "model.safetensors") == digest(full / "model.safetensors")

"""Crash safety: kill -9 at chosen moments, a full disk, and what the next run finds (issue 8).

`msdepth prepare` runs in a subprocess whose writer announces each stage on stdout and pauses
there (hooks installed by `HOOKS`, the command itself is unchanged); the test kills it with
SIGKILL at that stage. Afterwards ``--out`` must be the previous dataset byte for byte or
absent, never half-written, and a rerun must tidy the leftovers and produce exactly the
dataset of an uninterrupted run.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bad_inputs as bad
from fake_models import random_checkpoint
from msdepth.checkpoint import load_model, save_model
from msdepth.cli.main import main
from msdepth.data import open_dataset
from msdepth.data.prepared import recover_interrupted
from msdepth.errors import DataError

SRC = Path(__file__).resolve().parents[1] / "src"

# Installed in the child before the command runs: print a marker at each stage and pause at
# KILL_AT so the parent's SIGKILL lands exactly there. KILL_NO_EXCHANGE forces the two-rename
# fallback used where the atomic exchange is not available.
HOOKS = r"""
import os, sys, time
import msdepth.data.prepared as prepared

def announce(marker):
    print(marker, flush=True)
    if marker == os.environ["KILL_AT"]:
        time.sleep(60)  # the parent kills us here

append = prepared.SplitWriter.append
def hooked_append(self, *args, **kwargs):
    append(self, *args, **kwargs)
    announce(f"appended {self.stats.count}")
prepared.SplitWriter.append = hooked_append

enter = prepared.DatasetWriter.__enter__
def hooked_enter(self):
    result = enter(self)
    announce("tmp-created")
    return result
prepared.DatasetWriter.__enter__ = hooked_enter

close = prepared.SplitWriter.close
def hooked_close(self):
    announce("closing")
    return close(self)
prepared.SplitWriter.close = hooked_close

exchange = prepared._exchange
def hooked_exchange(a, b):
    announce("exchanging")
    return False if os.environ.get("KILL_NO_EXCHANGE") else exchange(a, b)
prepared._exchange = hooked_exchange

replace = os.replace
def hooked_replace(a, b):
    replace(a, b)
    if ".old-" in str(b):
        announce("between-renames")
prepared.os.replace = hooked_replace

from msdepth.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

N_PAIRS = 6


def _source(folder: Path) -> Path:
    folder.mkdir()
    lines = []
    for i in range(N_PAIRS):
        bad.rgb_png(folder / f"{i}_colors.png", seed=i)
        bad.depth_png(folder / f"{i}_depth.png", mm=800 + 300 * i)
        lines.append(f"{i}_colors.png,{i}_depth.png\n")
    (folder / "list.csv").write_text("".join(lines))
    return folder / "list.csv"


def _arrays(path: Path, split: str | None = None) -> tuple:
    ds = open_dataset(path, split)
    return ds.rgb.copy(), ds.depth.copy(), list(ds.names), len(ds)


def _kill_at(marker: str, argv: list[str], no_exchange: bool = False) -> bool:
    """Run ``msdepth *argv`` with the hooks; SIGKILL it when it prints ``marker``.

    Returns True when it was killed there (False: it finished before reaching the marker).
    """
    env = {**os.environ, "PYTHONPATH": str(SRC), "KILL_AT": marker}
    if no_exchange:
        env["KILL_NO_EXCHANGE"] = "1"
    child = subprocess.Popen([sys.executable, "-c", HOOKS, *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    killed = False
    try:
        for line in child.stdout:
            if line.strip() == marker:
                os.kill(child.pid, signal.SIGKILL)
                killed = True
                break
    finally:
        child.wait(timeout=120)
        child.stdout.close()
        child.stderr.close()
    assert killed or child.returncode == 0, f"child failed: {child.returncode}"
    return killed


KILL_POINTS = [
    ("tmp-created", False),
    ("appended 1", False),
    (f"appended {N_PAIRS // 2}", False),
    ("closing", False),
    ("exchanging", False),
    ("between-renames", True),  # the non-Linux fallback's window without a dataset at --out
]


@pytest.mark.slow
@pytest.mark.parametrize(("marker", "no_exchange"), KILL_POINTS, ids=[m for m, _ in KILL_POINTS])
def test_prepare_killed_keeps_the_old_dataset_and_a_rerun_completes(tmp_path, marker, no_exchange):
    csv = _source(tmp_path / "src")
    out = tmp_path / "ds"
    args = ["prepare", "csv", "--csv", str(csv), "--out", str(out), "--no-progress"]
    assert main([*args, "--size", "8x6"]) == 0  # the previous dataset, at another size
    previous = bad.snapshot(out)
    assert main([*args, "--out", str(tmp_path / "clean"), "--keep-size"]) == 0
    clean = _arrays(tmp_path / "clean")

    assert _kill_at(marker, [*args, "--keep-size", "--overwrite"], no_exchange)
    recover_interrupted(out)  # what the next reader or writer of --out does first
    assert bad.snapshot(out) == previous  # never half-written: still the previous one

    assert main([*args, "--keep-size", "--overwrite"]) == 0
    rgb, depth, names, n = _arrays(out)
    assert n == N_PAIRS and names == clean[2]
    assert np.array_equal(rgb, clean[0]) and np.array_equal(depth, clean[1])
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []


@pytest.mark.slow
@pytest.mark.parametrize("marker", ["tmp-created", "appended 2", "closing"])
def test_prepare_killed_without_a_previous_dataset_leaves_none(tmp_path, marker):
    csv = _source(tmp_path / "src")
    out = tmp_path / "ds"
    assert _kill_at(marker, ["prepare", "csv", "--csv", str(csv), "--out", str(out),
                             "--no-progress"])  # fmt: skip
    assert not out.exists()
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(out)  # the reader tidies the dead writer's folder, then says so
    assert [p.name for p in tmp_path.iterdir()] == ["src"]


def test_reader_restores_a_dataset_moved_aside_by_a_killed_writer(tmp_path, tiny_dataset):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    aside = tiny_dataset.with_name(f"{tiny_dataset.name}.old-{int(dead.stdout)}")
    expected = _arrays(tiny_dataset, "train")
    tiny_dataset.rename(aside)
    restored = _arrays(tiny_dataset, "train")  # open_dataset puts it back
    assert not aside.exists()
    assert all(np.array_equal(a, b) for a, b in zip(restored[:2], expected[:2], strict=True))


def test_a_live_writers_temporary_folder_is_left_alone(tmp_path, tiny_dataset):
    live = tmp_path / f"{tiny_dataset.name}.tmp-{os.getppid()}"  # our parent is alive
    live.mkdir()
    recover_interrupted(tiny_dataset)
    assert live.is_dir()


def test_another_hosts_temporary_folder_is_left_alone(tmp_path, tiny_dataset):
    folder = tmp_path / f"{tiny_dataset.name}.tmp-999999999"
    folder.mkdir()
    (folder / ".writer").write_text("some-other-host 999999999")
    recover_interrupted(tiny_dataset)
    assert folder.is_dir()


# ---- disk full while writing a checkpoint ------------------------------------------------------


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    import msdepth.checkpoint as checkpoint

    path = random_checkpoint(tmp_path / "m.safetensors", seed=1)
    before = bad.snapshot(tmp_path)
    model, _ = load_model(path)
    real_save = checkpoint.save_file

    def full_disk(state, filename, metadata=None):
        real_save(state, filename, metadata=metadata)
        with open(filename, "r+b") as f:  # only part of it reached the disk
            f.truncate(os.path.getsize(filename) // 3)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model(path, model, load_model(path)[1].config, "fine", 2)
    assert bad.snapshot(tmp_path) == before  # no temporary file, the old checkpoint intact
    assert load_model(path)[1].step == 1


def test_disk_full_is_one_line_from_the_cli(tmp_path, capsys, monkeypatch):
    import msdepth.inference.outputs as outputs

    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    image = bad.rgb_png(tmp_path / "a.png", size=(32, 24))
    (tmp_path / "out").mkdir()
    np.save(tmp_path / "out" / "a.npy", np.ones(3, np.float32))
    before = bad.snapshot(tmp_path)

    def full_disk(file, array, *args, **kwargs):
        Path(file).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))

    monkeypatch.setattr(outputs.np, "save", full_disk)
    code = main(["predict", "--quiet", "--checkpoint", str(ckpt), str(image),
                 "--out", str(tmp_path / "out"), "--save", "npy"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err
    assert bad.snapshot(tmp_path) == before  # the earlier a.npy is intact, no partial file

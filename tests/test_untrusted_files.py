"""Files from strangers are data, never code: no pickle is executed, no path escapes its root.

Complements tests/test_predict_checkpoint_safety.py (a pickle named .safetensors, a legacy
torch .pt) with the run-folder case, a source scan for unsafe loaders, and CSV roots for every
command that reads pair lists.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import bad_inputs as bad
from fake_models import random_checkpoint
from msdepth.cli.main import main

SRC = Path(__file__).resolve().parents[1] / "src" / "msdepth"


def test_no_loader_in_the_package_can_unpickle():
    """Every torch.load passes weights_only=True; no pickle/np.load(allow_pickle=True)."""
    offences = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"torch\.load\((?:[^()]|\([^()]*\))*\)", text):
            if "weights_only=True" not in call.group(0):
                offences.append(f"{path.name}: {call.group(0)}")
        for pattern in (r"\bpickle\.loads?\(", r"allow_pickle\s*=\s*True", r"\bdill\b",
                        r"torch\.jit\.load\("):  # fmt: skip
            offences += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offences == []


@pytest.fixture
def run_with_planted_pickles(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder whose every non-safetensors file is a malicious pickle."""
    run = tmp_path / "run"
    ckpt = random_checkpoint(run / "checkpoints" / "fine-00000010.safetensors")
    marker = tmp_path / "PWNED"
    for name in ("fine-00000010.state.pt", "fine-00000020.state.pt", "optimizer.pt", "rng.pkl"):
        bad.malicious_torch_file(run / "checkpoints" / name, marker)
    bad.malicious_pickle(run / "model.pt", marker)
    bad.malicious_pickle(ckpt.with_suffix(".json"), marker)  # the sidecar, too
    return run, marker


def test_predict_evaluate_and_export_of_a_run_folder_never_unpickle(
    run_with_planted_pickles, tmp_path
):
    run, marker = run_with_planted_pickles
    image = bad.rgb_png(tmp_path / "a.png", size=(32, 24))
    bad.depth_png(tmp_path / "a_depth.png", size=(32, 24))
    (tmp_path / "pairs.csv").write_text("a.png,a_depth.png\n")
    commands = [
        ["predict", "--quiet", "--checkpoint", str(run), str(image), "--out", str(tmp_path / "o")],
        ["evaluate", "--quiet", "--checkpoint", str(run), "--data", str(tmp_path / "pairs.csv")],
        ["export", "--checkpoint", str(run), "--torchscript", str(tmp_path / "m.pt")],
    ]
    for argv in commands:
        assert main(argv) == 0, argv[0]
    assert not marker.exists()


def test_a_planted_pickle_is_refused_when_named_as_the_checkpoint(run_with_planted_pickles, capsys):
    run, marker = run_with_planted_pickles
    for name in ("checkpoints/fine-00000010.state.pt", "model.pt"):
        code = main(["export", "--checkpoint", str(run / name), "--onnx", str(run / "m.onnx")])
        assert code == 2 and "is not a readable safetensors checkpoint" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    "line",
    [
        "../outside.png,a_depth.png",
        "sub/../../outside.png,a_depth.png",
        "{abs},a_depth.png",
        "a.png,../outside_depth.png",
    ],
)
@pytest.mark.parametrize("command", ["prepare", "evaluate"])
def test_csv_paths_cannot_leave_the_list_folder(tmp_path, capsys, line, command):
    root = tmp_path / "data"
    root.mkdir()
    bad.rgb_png(root / "a.png")
    bad.depth_png(root / "a_depth.png")
    bad.rgb_png(tmp_path / "outside.png")
    bad.depth_png(tmp_path / "outside_depth.png")
    (root / "list.csv").write_text(line.format(abs=tmp_path / "outside.png") + "\n")
    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    argv = {
        "prepare": ["prepare", "csv", "--csv", str(root / "list.csv"), "--out",
                    str(tmp_path / "ds"), "--no-progress"],
        "evaluate": ["evaluate", "--quiet", "--checkpoint", str(ckpt), "--data",
                     str(root / "list.csv")],
    }[command]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is outside" in err and "--allow-outside-root" in err and err.count("\n") == 1
    assert not (tmp_path / "ds").exists()


def test_root_flag_moves_the_boundary_not_removes_it(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "lists").mkdir(parents=True)
    bad.rgb_png(root / "a.png")
    bad.depth_png(root / "a_depth.png")
    (root / "lists" / "l.csv").write_text("a.png,a_depth.png\n../../etc/passwd,a_depth.png\n")
    argv = ["prepare", "csv", "--csv", str(root / "lists" / "l.csv"), "--root", str(root),
            "--out", str(tmp_path / "ds"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2 and "passwd is outside" in capsys.readouterr().err
    assert main([*argv, "--skip-bad"]) == 0
    assert np.load(tmp_path / "ds" / "test" / "rgb.npy").shape[0] == 1


def test_weights_digest_depends_on_values_not_memory_layout():
    import torch

    from msdepth.checkpoint import weights_digest

    w = torch.arange(4 * 3, dtype=torch.float32).reshape(4, 3, 1, 1)  # a 1x1 conv
    odd = w.to(memory_format=torch.channels_last)  # "contiguous", yet stride(-1) == 3
    assert odd.contiguous().stride()[-1] == 3
    assert weights_digest({"w": odd}) == weights_digest({"w": w.clone()})
    changed = w.clone()
    changed[3, 2, 0, 0] += 1
    assert weights_digest({"w": changed}) != weights_digest({"w": w})

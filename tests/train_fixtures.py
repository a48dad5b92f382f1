"""Small training runs for the tests: a 96x72 network (7.4M parameters) on a tiny dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path

from safetensors.torch import load_file

from conftest import write_tiny_dataset
from msdepth.config import Config

TINY = {
    "model.input_width": 96,
    "model.input_height": 72,
    "train.batch_size": 4,
    "train.coarse_steps": 6,
    "train.fine_steps": 6,
    "train.workers": 0,
    "train.deterministic": True,
    "train.log_every": 2,
    "train.panel_every": 3,
    "train.val_every": 3,
    "train.checkpoint_every": 3,
    "train.keep_last": 10,
    "train.tensorboard": False,
}


def tiny_config(**overrides: object) -> Config:
    """The test geometry; keyword overrides use ``section__key`` for ``section.key``."""
    values = dict(TINY)
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return Config().with_overrides(values)


def tiny_data(folder: Path, n_train: int = 16) -> Path:
    """A prepared dataset of 128x96 scenes (bigger than the 96x72 input, so crops vary)."""
    return write_tiny_dataset(folder, n_train=n_train, n_test=4, size=(128, 96))


def weights(path: Path) -> dict:
    return load_file(str(path))


def digest(path: Path) -> str:
    """Hash of a checkpoint's tensors (not its metadata)."""
    h = hashlib.sha256()
    for name, tensor in sorted(weights(path).items()):
        h.update(name.encode())
        h.update(tensor.numpy().tobytes())
    return h.hexdigest()

"""The bad-input matrix: every command, every kind of broken input (issue 8).

Each case runs the command in-process through `msdepth.cli.main.main` and checks the promise
made to users: exit code 2, exactly one line on stderr naming the problem and the file or value
at fault, no traceback, and nothing already on disk changed or added (an existing prepared
dataset, checkpoint, output folder, ONNX file and JSON report are hashed before and after).
Inputs Pillow can convert (grey, RGBA, 16-bit, palette, EXIF-rotated) are accepted instead.
Cases covered at the API level elsewhere are listed in RELIABILITY.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

import bad_inputs as bad
from conftest import write_tiny_dataset
from fake_models import SMALL, random_checkpoint
from msdepth.checkpoint import save_model
from msdepth.cli.main import main
from msdepth.config import Config
from msdepth.data import open_dataset
from msdepth.models import MultiScaleDepth

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass
class World:
    """A user's folder: good pairs, a checkpoint, and outputs of earlier runs to protect."""

    root: Path
    src: Path  # 0/1_colors.png + 0/1_depth.png + list.csv
    ckpt: Path
    dataset: Path  # an existing prepared dataset
    results: Path  # an existing predict output folder
    onnx: Path  # an existing exported model
    report: Path  # an existing evaluate --json report

    def csv(self, text: str, name: str = "list.csv") -> Path:
        path = self.src / name
        path.write_text(text)
        return path

    def prepare(self, *args: object) -> list[str]:
        return ["prepare", *map(str, args), "--out", str(self.dataset), "--overwrite",
                "--no-progress"]  # fmt: skip

    def prepare_csv(self, csv: Path | None = None, *extra: object) -> list[str]:
        return self.prepare("csv", "--csv", csv or self.src / "list.csv", *extra)

    def evaluate(self, *args: object, data: Path | None = None, ckpt: Path | None = None):
        return ["evaluate", "--quiet", "--checkpoint", str(ckpt or self.ckpt),
                "--data", str(data or self.src / "list.csv"), "--json", str(self.report),
                *map(str, args)]  # fmt: skip

    def predict(self, *inputs: object, ckpt: Path | None = None, extra: tuple = ()):
        return ["predict", "--quiet", "--checkpoint", str(ckpt or self.ckpt), *map(str, inputs),
                "--out", str(self.results), *map(str, extra)]  # fmt: skip

    def export(self, ckpt: Path | None = None, *extra: object) -> list[str]:
        return ["export", "--checkpoint", str(ckpt or self.ckpt), "--onnx", str(self.onnx),
                *map(str, extra)]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> World:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        bad.rgb_png(src / f"{i}_colors.png", seed=i)
        bad.depth_png(src / f"{i}_depth.png", mm=1000 + 500 * i)
    (src / "list.csv").write_text("0_colors.png,0_depth.png\n1_colors.png,1_depth.png\n")
    results = tmp_path / "results"
    results.mkdir()
    np.save(results / "earlier.npy", np.ones((4, 4), np.float32))
    (tmp_path / "model.onnx").write_bytes(b"an earlier export")
    (tmp_path / "report.json").write_text('{"metrics": "earlier"}')
    return World(
        root=tmp_path,
        src=src,
        ckpt=random_checkpoint(tmp_path / "model.safetensors"),
        dataset=write_tiny_dataset(tmp_path / "dataset", 2, 2, size=(32, 24)),
        results=results,
        onnx=tmp_path / "model.onnx",
        report=tmp_path / "report.json",
    )


CASES: list = []


def case(command: str, name: str):
    """Register a setup ``fn(world) -> (argv, regex the one-line error must match)``."""

    def register(fn):
        CASES.append(pytest.param(fn, id=f"{command}:{name}"))
        return fn

    return register


# ---- checkpoints from strangers (shared by evaluate, predict, export) --------------------------


def truncated_ckpt(w: World) -> Path:
    path = w.root / "cut.safetensors"
    path.write_bytes(w.ckpt.read_bytes())
    return bad.truncated(path)


def tampered_weights(w: World) -> Path:
    data = bytearray(w.ckpt.read_bytes())
    data[-64:] = bytes(64)  # overwrite the last weights (fine4's) with zeros
    path = w.root / "tampered.safetensors"
    path.write_bytes(bytes(data))
    return path


def tampered_header(w: World) -> Path:
    data = bytearray(w.ckpt.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + n].replace(b'\\"input_width\\": 96', b'\\"input_width\\": 9x')
    assert header != data[8 : 8 + n]
    path = w.root / "tampered-config.safetensors"
    path.write_bytes(bytes(data[:8] + header + data[8 + n :]))
    return path


def other_geometry(w: World) -> Path:
    """Weights of a 128x96 network labelled with the 96x72 config."""
    path = w.root / "other.safetensors"
    bigger = Config().with_overrides({"model.input_width": 128, "model.input_height": 96})
    model = MultiScaleDepth(bigger.model)
    return save_model(path, model, Config().with_overrides(SMALL), "fine", 1)


def pickle_ckpt(w: World) -> Path:
    return bad.malicious_pickle(w.root / "evil.safetensors", w.root / "PWNED")


def legacy_pt(w: World) -> Path:
    torch.save(MultiScaleDepth(Config().with_overrides(SMALL).model).state_dict(),
               w.root / "legacy.pt")  # fmt: skip
    return w.root / "legacy.pt"


CKPT_CASES = {
    "missing-checkpoint": (lambda w: w.root / "nope.safetensors", r"nope\.safetensors does not exist"),
    "empty-run-folder": (lambda w: (w.root / "run").mkdir() or w.root / "run", r"run holds no checkpoint"),
    "truncated-checkpoint": (truncated_ckpt, r"cut\.safetensors is not a readable safetensors"),
    "tampered-weights": (tampered_weights, r"tampered\.safetensors is damaged"),
    "tampered-config": (tampered_header, r"tampered-config\.safetensors has corrupt metadata"),
    "checkpoint-of-another-geometry": (other_geometry, r"other\.safetensors does not match the geometry"),
    "pickle-as-checkpoint": (pickle_ckpt, r"evil\.safetensors is not a readable safetensors"),
    "torch-pt-as-checkpoint": (legacy_pt, r"legacy\.pt is not a readable safetensors"),
}  # fmt: skip


def _ckpt_case(command: str, name: str, make, pattern: str, argv_of) -> None:
    case(command, name)(lambda w: (argv_of(w, make(w)), pattern))


for _name, (_make, _pattern) in CKPT_CASES.items():
    _ckpt_case("evaluate", _name, _make, _pattern, lambda w, p: w.evaluate(ckpt=p))
    _ckpt_case("predict", _name, _make, _pattern,
               lambda w, p: w.predict(w.src / "0_colors.png", ckpt=p))  # fmt: skip
    _ckpt_case("export", _name, _make, _pattern, lambda w, p: w.export(p))


# ---- prepare: csv ------------------------------------------------------------------------------


@case("prepare", "missing-csv")
def _(w):
    return w.prepare_csv(w.src / "nope.csv"), r"pair list .*nope\.csv does not exist"


@case("prepare", "csv-is-a-folder")
def _(w):
    return w.prepare_csv(w.src), r"pair list .*src is a folder"


@case("prepare", "empty-csv")
def _(w):
    return w.prepare_csv(w.csv("# nothing\n\n")), r"list\.csv lists no pairs"


@case("prepare", "csv-line-with-three-fields")
def _(w):
    path = w.csv("0_colors.png,0_depth.png\n1_colors.png,1_depth.png,extra\n")
    return w.prepare_csv(path), r"list\.csv line 2: expected 'rgb_path,depth_path', got 3"


@case("prepare", "csv-not-utf8")
def _(w):
    (w.src / "list.csv").write_bytes(b"\xff\xfe\x00\x01binary")
    return w.prepare_csv(), r"pair list .*list\.csv is not UTF-8"


@case("prepare", "csv-path-escapes-root")
def _(w):
    bad.rgb_png(w.root / "outside.png")
    path = w.csv("../outside.png,0_depth.png\n")
    return w.prepare_csv(
        path
    ), r"list\.csv line 1: .*outside\.png is outside .*src.*--allow-outside-root"


@case("prepare", "csv-absolute-path-outside-root")
def _(w):
    bad.rgb_png(w.root / "outside.png")
    path = w.csv(f"{w.root / 'outside.png'},0_depth.png\n")
    return w.prepare_csv(path), r"outside\.png is outside .*--allow-outside-root"


@case("prepare", "rgb-file-missing")
def _(w):
    (w.src / "1_colors.png").unlink()
    return w.prepare_csv(), r"list\.csv line 2: image .*1_colors\.png does not exist"


@case("prepare", "text-file-named-png")
def _(w):
    (w.src / "1_colors.png").write_text("not an image")
    return w.prepare_csv(), r"line 2: .*1_colors\.png is not an image Pillow can read"


@case("prepare", "truncated-rgb-png")
def _(w):
    bad.truncated(bad.noisy_png(w.src / "1_colors.png", (16, 12)))
    return w.prepare_csv(), r"line 2: image .*1_colors\.png is corrupt or truncated"


@case("prepare", "corrupt-png-crc")
def _(w):
    bad.corrupt_png_chunk(w.src / "1_colors.png")
    return w.prepare_csv(), r"line 2: .*1_colors\.png is not an image Pillow can read \(corrupt"


@case("prepare", "truncated-jpeg")
def _(w):
    bad.truncated(bad.jpeg(w.src / "1_colors.jpg", (16, 12)))
    path = w.csv("0_colors.png,0_depth.png\n1_colors.jpg,1_depth.png\n")
    return w.prepare_csv(path), r"line 2: image .*1_colors\.jpg is corrupt or truncated"


@case("prepare", "truncated-depth-png")
def _(w):
    bad.truncated(bad.noisy_png(w.src / "1_depth.png", (16, 12), mode="I;16"))
    return w.prepare_csv(), r"line 2: depth .*1_depth\.png is corrupt or truncated"


@case("prepare", "truncated-pgm-depth")
def _(w):
    for i in range(2):
        bad.pgm16(w.src / f"{i}_depth.pgm")
    bad.truncated(w.src / "1_depth.pgm")
    path = w.csv("0_colors.png,0_depth.pgm\n1_colors.png,1_depth.pgm\n")
    return (w.prepare_csv(path, "--depth-format", "pgm"),
            r"line 2: depth .*1_depth\.pgm is corrupt or truncated")  # fmt: skip


@case("prepare", "decompression-bomb-rgb")
def _(w):
    bad.bomb_png(w.src / "1_colors.png")
    return w.prepare_csv(), r"line 2: image .*1_colors\.png is too large to decode safely"


@case("prepare", "decompression-bomb-depth")
def _(w):
    bad.bomb_png(w.src / "1_depth.png")
    return w.prepare_csv(), r"line 2: depth .*1_depth\.png is too large to decode safely"


@case("prepare", "depth-is-an-rgb-picture")
def _(w):
    bad.rgb_png(w.src / "1_depth.png")
    return w.prepare_csv(), r"line 2: depth .*1_depth\.png is a RGB image"


@case("prepare", "8-bit-depth-without-scale")
def _(w):
    Image.fromarray(np.full((12, 16), 40, np.uint8)).save(w.src / "1_depth.png")
    return w.prepare_csv(), r"line 2: depth .*1_depth\.png is 8-bit"


@case("prepare", "depth-all-nan-inf-negative")
def _(w):
    depth = np.tile(np.array([np.nan, np.inf, -np.inf, -2.0], np.float32), (12, 4))
    for i in range(2):
        np.save(w.src / f"{i}_depth.npy", np.full((12, 16), 2.0, np.float32))
    np.save(w.src / "1_depth.npy", depth)
    path = w.csv("0_colors.png,0_depth.npy\n1_colors.png,1_depth.npy\n")
    return (w.prepare_csv(path, "--depth-format", "npy"),
            r"line 2: depth .*1_depth\.npy has no valid pixel")  # fmt: skip


@case("prepare", "depth-all-zero")
def _(w):
    bad.depth_png(w.src / "1_depth.png", mm=0)
    return w.prepare_csv(), r"line 2: depth .*1_depth\.png has no valid pixel"


@case("prepare", "depth-npy-of-text")
def _(w):
    np.save(w.src / "1_depth.npy", np.array([["a", "b"]]))
    bad.pgm16(w.src / "0_depth.pgm")
    path = w.csv("1_colors.png,1_depth.npy\n")
    return w.prepare_csv(path, "--depth-format", "npy"), r"1_depth\.npy holds a <U1 array"


@case("prepare", "mismatched-rgb-and-depth-sizes")
def _(w):
    bad.depth_png(w.src / "1_depth.png", size=(20, 15))
    return (
        w.prepare_csv(),
        r"line 2: RGB .*1_colors\.png is 16x12 but depth .*1_depth\.png is 20x15",
    )


# ---- prepare: folder and nyu-mat ---------------------------------------------------------------


@case("prepare", "folder-missing")
def _(w):
    return (w.prepare("folder", "--rgb", w.root / "nope", "--depth", w.src),
            r"RGB folder .*nope does not exist")  # fmt: skip


@case("prepare", "folder-empty")
def _(w):
    (w.root / "empty").mkdir()
    e = w.root / "empty"
    return w.prepare("folder", "--rgb", e, "--depth", e), r"no RGB/depth pairs found in .*empty"


@case("prepare", "folder-file-without-partner")
def _(w):
    bad.rgb_png(w.src / "2_colors.png")
    return (w.prepare("folder", "--rgb", w.src, "--depth", w.src),
            r"2_colors\.png has no partner .*--skip-bad")  # fmt: skip


def _splits(path: Path, train=(1,), test=(2,)) -> Path:
    scipy.io.savemat(path, {"trainNdxs": np.array(train, float)[:, None],
                            "testNdxs": np.array(test, float)[:, None]})  # fmt: skip
    return path


def _mat(path: Path, images=None, depths=None) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((3, 3, 8, 6), np.uint8) if images is None
                         else images)  # fmt: skip
        if isinstance(depths, str):
            f.create_group(depths)
        else:
            f.create_dataset("depths", data=np.ones((3, 8, 6), np.float32) if depths is None
                             else depths)  # fmt: skip
    return path


def _nyu(w: World, mat: Path, splits: Path | None = None) -> list[str]:
    return w.prepare("nyu-mat", "--mat", mat, "--splits", splits or _splits(w.root / "s.mat"))


@case("prepare", "nyu-mat-missing")
def _(w):
    return _nyu(w, w.root / "nope.mat"), r"nope\.mat does not exist"


@case("prepare", "nyu-mat-not-hdf5")
def _(w):
    (w.root / "junk.mat").write_bytes(b"MATLAB 5.0 junk")
    return _nyu(w, w.root / "junk.mat"), r"junk\.mat is not an HDF5 / MATLAB v7\.3 file"


@case("prepare", "nyu-mat-depths-wrong-shape")
def _(w):
    mat = _mat(w.root / "nyu.mat", depths=np.ones((3, 8), np.float32))
    return _nyu(w, mat), r"nyu\.mat: 'depths' has shape \(3, 8\), expected \(3, 8, 6\)"


@case("prepare", "nyu-mat-depths-is-a-group")
def _(w):
    return _nyu(w, _mat(w.root / "nyu.mat", depths="depths")), r"nyu\.mat has no 'depths' dataset"


@case("prepare", "nyu-mat-float-images")
def _(w):
    mat = _mat(w.root / "nyu.mat", images=np.zeros((3, 3, 8, 6), np.float32))
    return _nyu(w, mat), r"nyu\.mat: 'images' is float32, expected uint8"


@case("prepare", "nyu-splits-without-keys")
def _(w):
    scipy.io.savemat(w.root / "s.mat", {"other": np.ones((2, 1))})
    return _nyu(w, _mat(w.root / "nyu.mat"), w.root / "s.mat"), r"s\.mat has no 'trainNdxs'"


@case("prepare", "nyu-splits-beyond-the-images")
def _(w):
    splits = _splits(w.root / "s.mat", test=(2, 9))
    return _nyu(w, _mat(w.root / "nyu.mat"), splits), r"s\.mat: test index 9 is beyond the 3"


@case("prepare", "nyu-splits-fractional")
def _(w):
    splits = _splits(w.root / "s.mat", test=(1.5,))
    return (_nyu(w, _mat(w.root / "nyu.mat"), splits),
            r"s\.mat: testNdxs must hold 1-based whole-number")  # fmt: skip


@case("prepare", "nyu-splits-text")
def _(w):
    scipy.io.savemat(
        w.root / "s.mat", {"trainNdxs": np.array([["a"]]), "testNdxs": np.ones((1, 1))}
    )
    return (_nyu(w, _mat(w.root / "nyu.mat"), w.root / "s.mat"),
            r"s\.mat: trainNdxs must hold 1-based whole-number")  # fmt: skip


# ---- prepare: where it writes ------------------------------------------------------------------


@case("prepare", "out-exists-without-overwrite")
def _(w):
    argv = ["prepare", "csv", "--csv", str(w.src / "list.csv"), "--out", str(w.dataset)]
    return argv, r"dataset already exists; pass --overwrite"


@case("prepare", "out-is-a-folder-of-other-files")
def _(w):
    argv = ["prepare", "csv", "--csv", str(w.src / "list.csv"), "--out", str(w.results),
            "--overwrite"]  # fmt: skip
    return argv, r"results exists and is not a prepared dataset"


@case("prepare", "out-below-a-file")
def _(w):
    argv = ["prepare", "csv", "--csv", str(w.src / "list.csv"), "--out", str(w.report / "ds")]
    return argv, r"cannot write .*report\.json/ds: .*report\.json is a file"


@case("prepare", "incomplete-intrinsics")
def _(w):
    return w.prepare_csv(None, "--fx", "500"), r"intrinsics need all of --fx --fy --cx --cy"


# ---- synth -------------------------------------------------------------------------------------


def _synth(w: World, *extra: object, out: Path | None = None) -> list[str]:
    return ["synth", "--quiet", "--workers", "1", "--train", "1", "--test", "1",
            "--size", "32x24", "--out", str(out or w.root / "synth"), *map(str, extra)]  # fmt: skip


@case("synth", "out-exists-without-overwrite")
def _(w):
    return _synth(w, out=w.dataset), r"dataset already exists; pass --overwrite"


@case("synth", "out-is-a-folder-of-other-files")
def _(w):
    return _synth(w, "--overwrite", out=w.results), r"results exists and is not a prepared dataset"


@case("synth", "out-below-a-file")
def _(w):
    return _synth(w, out=w.report / "ds"), r"report\.json is a file"


@case("synth", "size-not-WxH")
def _(w):
    return _synth(w, "--size", "big"), r"--size 'big' is not WIDTHxHEIGHT"


@case("synth", "size-too-small")
def _(w):
    return _synth(w, "--size", "8x8"), r"image size 8x8 is too small"


@case("synth", "negative-count")
def _(w):
    return _synth(w, "--train", "-1"), r"image counts must be >= 0, got train=-1"


@case("synth", "nothing-to-render")
def _(w):
    return _synth(w, "--train", "0", "--test", "0"), r"nothing to render"


@case("synth", "zero-workers")
def _(w):
    return _synth(w, "--workers", "0"), r"--workers must be >= 1, got 0"


# ---- evaluate: data ----------------------------------------------------------------------------


@case("evaluate", "data-missing")
def _(w):
    return w.evaluate(data=w.root / "nope"), r"evaluation data .*nope does not exist"


@case("evaluate", "data-empty-folder")
def _(w):
    (w.root / "empty").mkdir()
    return w.evaluate(data=w.root / "empty"), r"no RGB/depth pairs found in .*empty"


@case("evaluate", "csv-bad-line")
def _(w):
    return w.evaluate(data=w.csv("0_colors.png\n", "one.csv")), r"one\.csv line 1: expected"


@case("evaluate", "csv-path-escapes-root")
def _(w):
    bad.rgb_png(w.root / "outside.png")
    path = w.csv("../outside.png,0_depth.png\n", "esc.csv")
    return w.evaluate(
        data=path
    ), r"esc\.csv line 1: .*outside\.png is outside .*--allow-outside-root"


@case("evaluate", "truncated-depth")
def _(w):
    bad.truncated(bad.noisy_png(w.src / "1_depth.png", (16, 12), mode="I;16"))
    return w.evaluate(), r"line 2: depth .*1_depth\.png is corrupt or truncated"


@case("evaluate", "text-file-named-png")
def _(w):
    (w.src / "0_colors.png").write_text("hello")
    return w.evaluate(), r"line 1: .*0_colors\.png is not an image Pillow can read"


@case("evaluate", "mismatched-sizes")
def _(w):
    bad.rgb_png(w.src / "0_colors.png", size=(20, 15))
    return w.evaluate(), r"line 1: RGB .*0_colors\.png is 20x15 but depth .*0_depth\.png is 16x12"


@case("evaluate", "depth-all-invalid")
def _(w):
    bad.depth_png(w.src / "1_depth.png", mm=0)
    return w.evaluate(), r"line 2: depth .*1_depth\.png has no valid pixel"


@case("evaluate", "unknown-depth-format")
def _(w):
    return w.evaluate("--depth-format", "mm"), r"unknown depth format 'mm'"


@case("evaluate", "negative-depth-scale")
def _(w):
    return w.evaluate("--depth-scale", "-1"), r"depth scale must be a positive number, got -1"


@case("evaluate", "depth-scale-for-a-prepared-dataset")
def _(w):
    return w.evaluate("--depth-scale", "1000", data=w.dataset), r"dataset is a prepared dataset"


@case("evaluate", "unknown-split")
def _(w):
    return w.evaluate("--split", "val", data=w.dataset), r"dataset has no split 'val'"


@case("evaluate", "prepared-meta-json-corrupt")
def _(w):
    (w.dataset / "meta.json").write_text("{ not json")
    return w.evaluate(data=w.dataset), r"meta\.json is corrupt"


@case("evaluate", "prepared-array-missing")
def _(w):
    (w.dataset / "test" / "depth.npy").unlink()
    return w.evaluate(data=w.dataset), r"dataset/test: cannot read arrays"


@case("evaluate", "min-depth-above-max-depth")
def _(w):
    return w.evaluate("--min-depth", "5", "--max-depth", "1"), r"need 0 < --min-depth < --max-depth"


@case("evaluate", "junk-onnx-model")
def _(w):
    w.onnx.write_bytes(b"junk")  # the case's own input: no longer an earlier output
    return w.evaluate(ckpt=w.onnx), r"model\.onnx is not a loadable ONNX model"


@case("evaluate", "json-is-a-folder")
def _(w):
    argv = w.evaluate()
    argv[argv.index("--json") + 1] = str(w.results)
    return argv, r"--json .*results is a folder"


@case("evaluate", "unknown-device")
def _(w):
    return w.evaluate("--device", "tpu9"), r"device 'tpu9' is not a device name"


# ---- predict -----------------------------------------------------------------------------------


@case("predict", "input-missing")
def _(w):
    return w.predict(w.src / "nope.png"), r"input .*nope\.png does not exist"


@case("predict", "empty-folder")
def _(w):
    (w.root / "empty").mkdir()
    return w.predict(w.root / "empty"), r"folder .*empty holds no images"


@case("predict", "glob-matches-nothing")
def _(w):
    return w.predict(w.src / "*.tif"), r"pattern .*\*\.tif' matches no image"


@case("predict", "not-an-image-extension")
def _(w):
    return w.predict(w.src / "list.csv"), r"list\.csv is neither an image nor a video"


@case("predict", "text-file-named-png")
def _(w):
    (w.src / "0_colors.png").write_text("hello")
    return w.predict(w.src / "0_colors.png"), r"0_colors\.png is not an image Pillow can read"


@case("predict", "empty-jpeg")
def _(w):
    (w.src / "empty.jpg").write_bytes(b"")
    return w.predict(w.src / "empty.jpg"), r"empty\.jpg is not an image Pillow can read"


@case("predict", "truncated-png")
def _(w):
    path = bad.truncated(bad.noisy_png(w.src / "cut.png"))
    return w.predict(path), r"image .*cut\.png is corrupt or truncated"


@case("predict", "truncated-jpeg")
def _(w):
    path = bad.truncated(bad.jpeg(w.src / "cut.jpg"))
    return w.predict(path), r"image .*cut\.jpg is corrupt or truncated"


@case("predict", "corrupt-png-crc")
def _(w):
    path = bad.corrupt_png_chunk(w.src / "0_colors.png")
    return w.predict(path), r"0_colors\.png is not an image Pillow can read \(corrupt"


@case("predict", "truncated-pgm")
def _(w):
    path = bad.truncated(bad.pgm16(w.src / "cut.pgm", size=(64, 48)))
    return w.predict(path), r"image .*cut\.pgm is corrupt or truncated"


@case("predict", "decompression-bomb")
def _(w):
    return w.predict(bad.bomb_png(w.src / "bomb.png")), r"bomb\.png is too large to decode safely"


@case("predict", "junk-onnx-model")
def _(w):
    w.onnx.write_bytes(b"junk")
    argv = ["predict", "--quiet", "--onnx", str(w.onnx), str(w.src / "0_colors.png"),
            "--out", str(w.results)]  # fmt: skip
    return argv, r"model\.onnx is not a loadable ONNX model"


@case("predict", "out-is-a-file")
def _(w):
    argv = w.predict(w.src / "0_colors.png")
    argv[argv.index("--out") + 1] = str(w.report)
    return argv, r"--out folder .*report\.json is a file"


@case("predict", "output-would-overwrite-input")
def _(w):
    other = bad.rgb_png(w.src / "0_colors.color.png")  # the colour output name of 0_colors.png
    argv = w.predict(w.src / "0_colors.png", other, extra=("--save", "color"))
    argv[argv.index("--out") + 1] = str(w.src)
    return argv, r"output .*0_colors\.color\.png would overwrite an input"


@case("predict", "every-zero")
def _(w):
    return w.predict(w.src / "0_colors.png", extra=("--every", "0")), r"--every must be at least 1"


@case("predict", "batch-size-zero")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--batch-size", "0")),
            r"batch size must be at least 1, got 0")  # fmt: skip


@case("predict", "unavailable-device")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--device", "cuda:7")),
            r"device 'cuda:7' is not available")  # fmt: skip


# ---- predict: the camera and known distances (issue 11) ---------------------------------------


@case("predict", "focal-zero")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--focal", "0")),
            r"--focal '0': a focal length is a positive number of pixels")  # fmt: skip


@case("predict", "focal-negative")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--focal=-500",)),
            r"--focal '-500': a focal length is a positive number of pixels")  # fmt: skip


@case("predict", "fov-out-of-range")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--fov", "200")),
            r"--fov 200.0: a horizontal field of view is degrees strictly between 0 and 180")  # fmt: skip


@case("predict", "exif-without-usable-focal")
def _(w):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x920A] = 4.2  # FocalLength without the sensor size
    bad.rgb_png(w.src / "photo.png")
    Image.open(w.src / "photo.png").convert("RGB").save(w.src / "photo.jpg", exif=exif)
    return (w.predict(w.src / "photo.jpg", extra=("--focal", "exif")),
            r"photo\.jpg: EXIF FocalLength 4\.2 mm without the sensor size .* pass --focal PX")  # fmt: skip


@case("predict", "no-exif-but-exif-required")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--focal", "exif")),
            r"0_colors\.png: no EXIF, so --focal exif has nothing to read")  # fmt: skip


def _points(w: World, text: str) -> Path:
    path = w.src / "points.csv"
    path.write_text("u,v,depth_m\n" + text)
    return path


@case("predict", "align-point-outside-the-image")
def _(w):
    path = _points(w, "1,1,1.0\n2,2,1.5\n16,3,2.0\n")  # the image is 16x12
    return (w.predict(w.src / "0_colors.png", extra=("--align", path)),
            r"points\.csv line 4: point \(16, 3\) is outside the 16x12 image")  # fmt: skip


@case("predict", "align-non-finite-depth")
def _(w):
    path = _points(w, "1,1,1.0\n2,2,nan\n")
    return (w.predict(w.src / "0_colors.png", extra=("--align", path)),
            r"points\.csv line 3: depth nan is not a positive finite number of metres")  # fmt: skip


@case("predict", "align-too-few-points")
def _(w):
    path = _points(w, "1,1,1.0\n2,2,1.2\n")
    return (w.predict(w.src / "0_colors.png", extra=("--align", path, "--align-mode",
                                                     "scale-shift")),
            r"2 usable point\(s\) .* scale-shift fit needs at least 3")  # fmt: skip


@case("predict", "align-points-missing")
def _(w):
    return (w.predict(w.src / "0_colors.png", extra=("--align", w.src / "nope.csv")),
            r"--align points .*nope\.csv does not exist")  # fmt: skip


@case("predict", "align-file-for-several-inputs")
def _(w):
    path = _points(w, "1,1,1.0\n2,2,1.2\n")
    return (w.predict(w.src / "0_colors.png", w.src / "1_colors.png", extra=("--align", path)),
            r"--align .*points\.csv fits one image; for several inputs give a folder")  # fmt: skip


@case("predict", "align-unknown-mode")
def _(w):
    path = _points(w, "1,1,1.0\n2,2,1.2\n")
    return (w.predict(w.src / "0_colors.png", extra=("--align", path, "--align-mode", "affine")),
            r"--align-mode 'affine': choose scale or scale-shift")  # fmt: skip


# ---- export ------------------------------------------------------------------------------------


@case("export", "no-target")
def _(w):
    return ["export", "--checkpoint", str(w.ckpt)], r"nothing to export"


@case("export", "unsupported-opset")
def _(w):
    return w.export(None, "--opset", "9"), r"--opset 9 is not supported"


@case("export", "onnx-target-is-a-folder")
def _(w):
    argv = w.export()
    argv[argv.index("--onnx") + 1] = str(w.results)
    return argv, r"results is a folder; give a file name"


# ---- train -------------------------------------------------------------------------------------


def _train(w: World, *extra: object, config: str | None = None) -> list[str]:
    argv = ["train", "--data", str(w.dataset), "--out", str(w.root / "run"), "--no-progress",
            "--set", "model.input_width=96", "--set", "model.input_height=72",
            "--steps", "1", "--batch-size", "2", "--workers", "0"]  # fmt: skip
    if config is not None:
        (w.root / "run.toml").write_text(config)
        argv += ["--config", str(w.root / "run.toml")]
    return [*argv, *map(str, extra)]


@case("train", "data-missing")
def _(w):
    argv = _train(w)
    argv[argv.index("--data") + 1] = str(w.root / "nope")
    return argv, r"--data .*nope is not a prepared dataset"


@case("train", "data-is-a-csv-not-a-dataset")
def _(w):
    argv = _train(w)
    argv[argv.index("--data") + 1] = str(w.src)
    return argv, r"--data .*src is not a prepared dataset"


@case("train", "dataset-meta-json-corrupt")
def _(w):
    (w.dataset / "meta.json").write_text("[1, 2")
    return _train(w), r"dataset/meta\.json is corrupt"


@case("train", "config-file-missing")
def _(w):
    return _train(w, "--config", w.root / "nope.toml"), r"config file .*nope\.toml does not exist"


@case("train", "config-not-toml")
def _(w):
    return _train(w, config="[train\nbatch_size = 2\n"), r"run\.toml is not valid TOML"


@case("train", "config-unknown-key")
def _(w):
    return _train(w, config="[train]\nbatchsize = 2\n"), r"run\.toml: unknown key train\.batchsize"


@case("train", "config-unknown-section")
def _(w):
    return _train(
        w, config="[trainer]\nbatch_size = 2\n"
    ), r"run\.toml: unknown section \[trainer\]"


@case("train", "config-wrong-type")
def _(w):
    return (_train(w, config='[optim]\nmomentum = "high"\n'),
            r"run\.toml: optim\.momentum must be a number, got 'high'")  # fmt: skip


@case("train", "config-out-of-range")
def _(w):
    return _train(w, config="[model]\ndropout = 1.5\n"), r"run\.toml: model\.dropout must be in"


@case("train", "set-without-equals")
def _(w):
    return _train(
        w, "--set", "train.seed"
    ), r"override 'train\.seed' must look like section\.key=value"


@case("train", "set-unknown-key")
def _(w):
    return _train(w, "--set", "train.sed=3"), r"--set: unknown key train\.sed"


@case("train", "negative-steps")
def _(w):
    return _train(w, "--steps", "-1"), r"train steps must be >= 0"


@case("train", "cuda-without-cuda")
def _(w):
    return _train(w, "--device", "cuda"), r"cuda"


@case("train", "init-missing")
def _(w):
    return (_train(w, "--stage", "fine", "--init", w.root / "nope.safetensors"),
            r"nope\.safetensors does not exist")  # fmt: skip


@case("train", "init-of-another-geometry")
def _(w):
    bigger = Config().with_overrides({"model.input_width": 128, "model.input_height": 96})
    path = save_model(w.root / "coarse128.safetensors", MultiScaleDepth(bigger.model), bigger,
                      "coarse", 5)  # fmt: skip
    return (_train(w, "--stage", "fine", "--init", path),
            r"coarse128\.safetensors was trained at input 128x96, this run uses 96x72")  # fmt: skip


@case("train", "init-tampered")
def _(w):
    return (_train(w, "--stage", "fine", "--init", tampered_weights(w)),
            r"tampered\.safetensors is damaged")  # fmt: skip


@case("train", "resume-without-a-run")
def _(w):
    return _train(w, "--resume"), r"run has no config\.toml: there is no run to resume"


# ---- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("setup", CASES)
def test_bad_input_is_one_clear_line_and_damages_nothing(setup, world, capsys):
    argv, pattern = setup(world)
    before = bad.snapshot(world.root)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"exit code {code}; stderr: {err}"
    assert err.count("\n") == 1 and err.startswith(f"msdepth {argv[0]}: error: "), err
    assert "Traceback" not in out + err
    assert re.search(pattern, err), f"{pattern!r} not in {err!r}"
    assert bad.snapshot(world.root) == before, "a failed command changed or added files"
    assert not (world.root / "PWNED").exists()


def test_the_matrix_covers_every_command():
    commands = {p.id.split(":")[0] for p in CASES}
    assert commands >= {"prepare", "synth", "train", "evaluate", "predict", "export"}


# ---- --skip-bad: the same broken pairs are skipped, listed, and the rest prepared --------------

SKIPPABLE = [
    "text-file-named-png",
    "truncated-rgb-png",
    "truncated-depth-png",
    "decompression-bomb-rgb",
    "decompression-bomb-depth",
    "depth-is-an-rgb-picture",
    "depth-all-zero",
    "mismatched-rgb-and-depth-sizes",
    "csv-line-with-three-fields",
]


@pytest.mark.parametrize("name", SKIPPABLE)
def test_skip_bad_prepares_the_good_pairs_and_lists_the_bad_one(name, world, capsys):
    setup = next(p.values[0] for p in CASES if p.id == f"prepare:{name}")
    argv, _ = setup(world)
    assert main([*argv, "--skip-bad"]) == 0, capsys.readouterr().err
    ds = open_dataset(world.dataset)
    split = ds.meta["splits"]["test"]
    assert len(ds) == 1 and ds.names == ["0_colors.png"] and split["skipped"] == 1
    assert split["skipped_files"][0]["name"] == "list.csv line 2"


# ---- inputs that are not RGB but convert cleanly -------------------------------------------------


def _image(path: Path, mode: str, size=(40, 30)) -> Path:
    w, h = size
    ramp = (np.arange(w * h).reshape(h, w) % 256).astype(np.uint8)
    if mode == "I;16":
        Image.fromarray(ramp.astype(np.uint16) * 250).save(path)
    elif mode == "PGM16":
        bad.pgm16(path, size)
    elif mode == "EXIF":
        exif = Image.Exif()
        exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees: portrait
        Image.fromarray(np.stack([ramp] * 3, -1)).save(path, exif=exif)
    else:
        Image.fromarray(ramp).convert(mode).save(path)
    return path


CONVERTIBLE = [("L", "png"), ("LA", "png"), ("RGBA", "png"), ("P", "png"), ("I;16", "png"),
               ("PGM16", "pgm"), ("CMYK", "jpg"), ("EXIF", "jpg")]  # fmt: skip


@pytest.mark.parametrize(("mode", "ext"), CONVERTIBLE, ids=[m for m, _ in CONVERTIBLE])
def test_predict_converts_any_image_mode_to_rgb_and_honours_exif(mode, ext, world):
    path = _image(world.src / f"in.{ext}", mode)
    assert main(world.predict(path, extra=("--save", "npy"))) == 0
    shape = (40, 30) if mode == "EXIF" else (30, 40)
    depth = np.load(world.results / "in.npy")
    assert depth.shape == shape and np.isfinite(depth).all() and (depth > 0).all()


@pytest.mark.parametrize(("mode", "ext"), CONVERTIBLE[:5], ids=[m for m, _ in CONVERTIBLE[:5]])
def test_prepare_converts_any_rgb_mode(mode, ext, world):
    _image(world.src / f"1_colors.{ext}", mode, size=(16, 12))
    world.csv(f"0_colors.png,0_depth.png\n1_colors.{ext},1_depth.png\n")
    assert main(world.prepare_csv(None, "--keep-size")) == 0
    rgb = open_dataset(world.dataset)[1].rgb
    assert rgb.shape == (12, 16, 3) and rgb.dtype == np.uint8


def test_allow_outside_root_accepts_paths_outside_the_csv_folder(world):
    bad.rgb_png(world.root / "outside.png")
    path = world.csv("../outside.png,0_depth.png\n", "esc.csv")
    assert main(world.prepare_csv(path, "--allow-outside-root")) == 0
    assert len(open_dataset(world.dataset)) == 1


# ---- the real console: no traceback reaches the terminal -----------------------------------------


def _console(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "msdepth", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["prepare:truncated-rgb-png", "predict:tampered-weights",
                                  "evaluate:csv-path-escapes-root"])  # fmt: skip
def test_console_prints_one_line_and_no_traceback(name, world):
    setup = next(p.values[0] for p in CASES if p.id == name)
    argv, pattern = setup(world)
    before = bad.snapshot(world.root)
    result = _console(*argv, cwd=world.root)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr + result.stdout
    assert re.search(pattern, result.stderr)
    assert bad.snapshot(world.root) == before


def test_a_failed_prepare_leaves_no_temporary_folder(world):
    """A prepare that fails leaves no temporary folder beside --out, and the old dataset."""
    bad.truncated(bad.noisy_png(world.src / "1_colors.png", (16, 12)))
    assert main(world.prepare_csv()) == 2
    leftovers = [p.name for p in world.root.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []
    assert json.loads((world.dataset / "meta.json").read_text())["splits"]["test"]["count"] == 2

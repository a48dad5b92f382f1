"""`msdepth export`: ONNX (dynamic batch) and TorchScript that match PyTorch, and ONNX predict."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

import msdepth
from fake_models import random_checkpoint
from msdepth.checkpoint import load_model
from msdepth.cli.main import main
from msdepth.errors import CheckpointError
from msdepth.export import export_torchscript


@pytest.fixture(scope="module")
def exported(module_tmp):
    folder = module_tmp
    ckpt = random_checkpoint(folder / "m.safetensors", seed=3)
    assert main(["export", "--checkpoint", str(ckpt), "--onnx", str(folder / "m.onnx"),
                 "--torchscript", str(folder / "m.pt")]) == 0  # fmt: skip
    return ckpt, folder / "m.onnx", folder / "m.pt"


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_matches_pytorch_for_any_batch_size(exported, batch):
    ckpt, onnx_path, _ = exported
    model, _ = load_model(ckpt)
    x = torch.rand(batch, 3, 72, 96, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(["log_depth"], {"rgb": x.numpy()})[0]
    assert got.shape == (batch, 1, 16, 22)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_onnx_model_declares_a_dynamic_batch_and_carries_the_config(exported):
    _, onnx_path, _ = exported
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 72, 96]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["format"] == "msdepth-onnx" and meta["stage"] == "fine"
    assert json.loads(meta["config"])["model"]["input_width"] == 96


def test_predicting_with_onnx_matches_pytorch_at_full_resolution(exported):
    ckpt, onnx_path, _ = exported
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    with_torch = msdepth.load(ckpt).predict(image)
    with_onnx = msdepth.load(onnx_path).predict(image)
    assert with_onnx.shape == (120, 160) and with_onnx.dtype == np.float32
    np.testing.assert_allclose(with_onnx, with_torch, rtol=1e-4)


def test_predict_cli_runs_an_onnx_model(exported, tmp_path):
    ckpt, onnx_path, _ = exported
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    for flag, model, out in (("--onnx", onnx_path, "o1"), ("--checkpoint", ckpt, "o2")):
        assert main(["predict", "--quiet", flag, str(model), str(tmp_path / "a.png"),
                     "--out", str(tmp_path / out), "--save", "npy"]) == 0  # fmt: skip
    np.testing.assert_allclose(
        np.load(tmp_path / "o1" / "a.npy"), np.load(tmp_path / "o2" / "a.npy"), rtol=1e-4
    )


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_model_matches_pytorch_and_carries_the_config(exported):
    ckpt, _, ts_path = exported
    model, _ = load_model(ckpt)
    extra = {"config.json": ""}
    scripted = torch.jit.load(str(ts_path), _extra_files=extra)
    x = torch.rand(3, 3, 72, 96)  # traced at batch 2
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), model(x))
    assert json.loads(extra["config.json"])["model"]["input_height"] == 72


def test_export_without_a_target_is_a_one_line_error(exported, capsys):
    ckpt, _, _ = exported
    assert main(["export", "--checkpoint", str(ckpt)]) == 2
    assert "nothing to export" in capsys.readouterr().err


def test_an_onnx_file_not_written_by_msdepth_is_refused(tmp_path):
    node = onnx.helper.make_node("Identity", ["rgb"], ["log_depth"])
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("rgb", onnx.TensorProto.FLOAT, [1, 3, 4, 4])],
        [onnx.helper.make_tensor_value_info("log_depth", onnx.TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(CheckpointError, match="not written by `msdepth export`"):
        msdepth.load(tmp_path / "other.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match=r"junk\.onnx is not a loadable ONNX model"):
        msdepth.load(tmp_path / "junk.onnx")


def test_export_creates_missing_folders_and_returns_the_written_path(tmp_path):
    ckpt = random_checkpoint(tmp_path / "m.safetensors")
    assert export_torchscript(ckpt, tmp_path / "sub" / "m.pt") == tmp_path / "sub" / "m.pt"
    assert (tmp_path / "sub" / "m.pt").is_file()

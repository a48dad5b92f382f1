"""Done-when: `evaluate` on the real NYU samples equals the paper's formulas applied by hand to
the `.npy` files that `predict` writes for the same checkpoint (paper geometry, 640x480)."""

import json

import numpy as np
import pytest
from PIL import Image

from fake_models import random_checkpoint
from msdepth.cli.main import main


@pytest.fixture(scope="module")
def paper_checkpoint(module_tmp):
    return random_checkpoint(module_tmp / "model.safetensors", overrides={})


def metrics_by_hand(pred, gt):
    """The paper's formulas, written out independently of msdepth.metrics."""
    crop = np.zeros(gt.shape, dtype=bool)
    crop[45:471, 41:601] = True
    valid = crop & (gt > 1e-3) & (gt < 10.0)
    p = np.clip(pred[valid].astype(np.float64), 1e-3, 10.0)
    g = gt[valid]
    ratio = np.maximum(p / g, g / p)
    d = np.log(p) - np.log(g)
    return {
        "delta1": np.mean(ratio < 1.25),
        "delta2": np.mean(ratio < 1.25**2),
        "delta3": np.mean(ratio < 1.25**3),
        "abs_rel": np.mean(np.abs(p - g) / g),
        "sq_rel": np.mean((p - g) ** 2 / g),
        "rmse": np.sqrt(np.mean((p - g) ** 2)),
        "rmse_log": np.sqrt(np.mean(d**2)),
        "log10": np.mean(np.abs(np.log10(p) - np.log10(g))),
        "silog": 100 * np.sqrt(np.mean(d**2) - np.mean(d) ** 2),
    }


def test_evaluate_matches_hand_computed_metrics_on_predict_outputs(
    shared_data, paper_checkpoint, tmp_path
):
    csv = shared_data / "nyu-test" / "nyu2_test.csv"
    pairs = [line.split(",") for line in csv.read_text().splitlines() if line.strip()]
    rgb_files = [csv.parent / rgb for rgb, _ in pairs]
    out = tmp_path / "pred"
    args = ["--quiet", "--checkpoint", str(paper_checkpoint)]
    assert main(["predict", *args, *map(str, rgb_files), "--out", str(out), "--save", "npy"]) == 0
    report_path = tmp_path / "eval.json"
    assert main(["evaluate", *args, "--data", str(csv), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())

    per_image = []
    for rgb, depth in pairs:
        pred = np.load(out / f"{(csv.parent / rgb).stem}.npy")
        gt = np.asarray(Image.open(csv.parent / depth), dtype=np.float64) / 1000.0
        assert pred.shape == gt.shape == (480, 640)
        per_image.append(metrics_by_hand(pred, gt))

    assert report["count"] == 20
    assert [row["name"] for row in report["per_image"]] == [
        (csv.parent / rgb).stem for rgb, _ in pairs
    ]
    # 1e-5: d1-d3 count pixels, and one of ~240k valid pixels whose float32 depth sits at a
    # threshold moves them by ~4e-6; every other metric agrees to 1e-6.
    for name in per_image[0]:
        tol = 1e-5 if name.startswith("delta") else 1e-6
        expected = float(np.mean([m[name] for m in per_image]))
        assert report["metrics"][name] == pytest.approx(expected, abs=tol), name
        for row, hand in zip(report["per_image"], per_image, strict=True):
            assert row[name] == pytest.approx(float(hand[name]), abs=tol), (row["name"], name)


def test_the_shared_nyu_folder_is_evaluated_through_its_csv(shared_data, tmp_path, capsys):
    small = random_checkpoint(tmp_path / "small.safetensors")
    folder = shared_data / "nyu-test"
    assert main(["evaluate", "--quiet", "--checkpoint", str(small), "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "20 images" in out and "original resolution" in out and "crop eigen" in out

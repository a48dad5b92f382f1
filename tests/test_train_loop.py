"""The two-stage loop: loss goes down, coarse stays frozen, the run folder is complete."""

import json
import math

import pytest
import torch

from msdepth.checkpoint import list_checkpoints, load_model, read_info, resolve_checkpoint
from msdepth.errors import CheckpointError, ConfigError
from msdepth.train import TrainingDivergedError, train
from msdepth.train.trainer import build_model
from train_fixtures import digest, tiny_config, tiny_data, weights


@pytest.fixture(scope="module")
def trained(module_tmp):
    """Both stages, 20 steps each, batch 4 at 96x72 (a few seconds)."""
    root = module_tmp
    data = tiny_data(root / "data")
    cfg = tiny_config(
        train__coarse_steps=20,
        train__fine_steps=20,
        train__log_every=5,
        train__val_every=10,
        train__checkpoint_every=10,
        train__panel_every=10,
        train__keep_last=1,
        train__tensorboard=True,
    )
    result = train(cfg, data, root / "run", progress=False)
    return result, root / "run", data


def _first_and_last(history):
    return history[0][1], history[-1][1]


def test_coarse_stage_reduces_the_loss(trained):
    result, _, _ = trained
    first, last = _first_and_last(result.stages["coarse"].loss_history)
    assert result.stages["coarse"].steps == 20
    assert last < 0.8 * first


def test_fine_stage_reduces_the_loss(trained):
    result, _, _ = trained
    first, last = _first_and_last(result.stages["fine"].loss_history)
    assert last < 0.8 * first


def test_fine_stage_leaves_the_coarse_network_bitwise_unchanged(trained):
    _, run, _ = trained
    coarse = weights(run / "checkpoints" / "coarse-00000020.safetensors")
    fine = weights(run / "model.safetensors")
    coarse_keys = [k for k in coarse if k.startswith("coarse.")]
    assert coarse_keys
    for key in coarse_keys:
        assert torch.equal(coarse[key], fine[key]), key
    assert any(not torch.equal(coarse[k], fine[k]) for k in fine if k.startswith("fine."))


def test_coarse_stage_leaves_the_fine_network_at_its_initial_weights(trained):
    result, run, _ = trained
    initial = build_model(result.config, "coarse").state_dict()
    coarse = weights(run / "checkpoints" / "coarse-00000020.safetensors")
    for key in (k for k in coarse if k.startswith("fine.")):
        assert torch.equal(coarse[key], initial[key]), key


def test_run_folder_holds_config_model_checkpoints_panels_and_logs(trained):
    result, run, _ = trained
    assert (run / "config.toml").is_file()
    assert resolve_checkpoint(run) == run / "model.safetensors"
    _, info = load_model(run)
    kept = result.stages["fine"].kept_step  # the best validated fine state, step 0 included
    assert info.stage == "fine" and info.step == kept and "abs_rel" in info.metrics
    assert digest(run / "model.safetensors") == digest(
        run / "checkpoints" / "fine-best.safetensors"
    )
    names = [p.name for p in list_checkpoints(run)]
    assert names == ["coarse-00000020.safetensors", "fine-00000020.safetensors"]  # keep_last=1
    for stage in ("coarse", "fine"):
        assert (run / "checkpoints" / f"{stage}-best.safetensors").is_file()
        assert result.stages[stage].best_checkpoint.is_file()
        assert (run / "checkpoints" / f"{stage}-00000020.state.pt").is_file()
        assert not (run / "checkpoints" / f"{stage}-00000010.state.pt").exists()
    panels = sorted(p.name for p in (run / "panels").iterdir())
    assert "coarse-00000010.png" in panels and "fine-val-00000020.png" in panels
    assert any((run / "tensorboard").iterdir())
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    train_rows = [r for r in records if r["kind"] == "train"]
    assert {"step", "loss", "lr", "img_per_s"} <= set(train_rows[0])
    val_rows = [r for r in records if r["kind"] == "val"]
    assert [r["step"] for r in val_rows if r["stage"] == "coarse"] == [10, 20]
    assert math.isfinite(val_rows[-1]["metrics"]["abs_rel"])


def test_best_checkpoint_has_the_lowest_validation_abs_rel(trained):
    _, run, _ = trained
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    for stage in ("coarse", "fine"):
        scores = [
            r["metrics"]["abs_rel"] for r in records if r["kind"] == "val" and r["stage"] == stage
        ]
        best = read_info(run / "checkpoints" / f"{stage}-best.safetensors")
        assert best.metrics["abs_rel"] == min(scores)


def test_reference_width_is_the_datasets_image_width(trained):
    result, run, _ = trained
    assert result.config.model.reference_width == 128
    assert read_info(run).config.model.reference_width == 128


def test_result_reports_throughput_and_final_metrics(trained):
    result, _, _ = trained
    for stage in result.stages.values():
        assert stage.images_per_second > 0
        assert set(stage.final_metrics) >= {"loss", "abs_rel", "rmse", "delta1"}
        assert not stage.stopped_by_budget


def test_fine_stage_starts_from_the_coarse_network_given_by_init(trained, tmp_path):
    _, run, data = trained
    cfg = tiny_config(train__fine_steps=2)
    result = train(cfg, data, tmp_path / "fine-only", stages="fine", init=run, progress=False)
    out = weights(result.model_path)
    source = weights(run / "model.safetensors")
    assert all(torch.equal(out[k], source[k]) for k in source if k.startswith("coarse."))


def test_fine_stage_without_a_coarse_network_is_an_error(tmp_path):
    data = tiny_data(tmp_path / "data")
    with pytest.raises(CheckpointError, match="--init"):
        train(tiny_config(), data, tmp_path / "run", stages="fine", progress=False)


def test_init_with_both_stages_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="--stage fine"):
        train(tiny_config(), tmp_path, tmp_path / "run", init=tmp_path, progress=False)


def test_training_again_into_a_used_run_folder_is_refused(trained):
    _, run, data = trained
    with pytest.raises(CheckpointError, match="--resume"):
        train(tiny_config(), data, run, stages="coarse", progress=False)


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import msdepth.train.trainer as trainer

    real_loss, calls = trainer.scale_invariant_loss, []

    def loss_that_breaks_at_step_5(*args, **kwargs):
        calls.append(1)
        loss = real_loss(*args, **kwargs)
        return loss * math.nan if len(calls) >= 5 else loss

    monkeypatch.setattr(trainer, "scale_invariant_loss", loss_that_breaks_at_step_5)
    data = tiny_data(tmp_path / "data")
    cfg = tiny_config(
        train__coarse_steps=8, train__checkpoint_every=2, train__log_every=3, train__val_every=100
    )
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"coarse step 5.*coarse-00000004.*--lr-scale"):
        train(cfg, data, run, stages="coarse", progress=False)
    assert [p.name for p in list_checkpoints(run)][-1] == "coarse-00000004.safetensors"
    assert not (run / "model.safetensors").exists()
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "diverged" and last["step"] == 5


def test_time_budget_stops_a_stage_cleanly_with_a_final_checkpoint(tmp_path):
    data = tiny_data(tmp_path / "data")
    cfg = tiny_config(train__coarse_steps=1000, train__fine_steps=1000)
    result = train(cfg, data, tmp_path / "run", max_minutes=1e-5, progress=False)
    for stage in ("coarse", "fine"):
        done = result.stages[stage]
        assert done.stopped_by_budget and 1 <= done.steps < 1000
        assert done.checkpoint.name == f"{stage}-{done.steps:08d}.safetensors"
        assert done.final_metrics
    assert read_info(result.model_path).stage == "fine"


def test_grad_clip_bounds_the_first_update(tmp_path):
    data = tiny_data(tmp_path / "data")
    clip = 1e-4
    cfg = tiny_config(train__coarse_steps=1, optim__grad_clip=clip, model__dropout=0.0)
    result = train(cfg, data, tmp_path / "run", stages="coarse", progress=False)
    before = build_model(result.config, "coarse").state_dict()
    after = weights(result.stages["coarse"].checkpoint)
    # First SGD step: momentum buffer = gradient, so update = lr * clipped gradient.
    change = 0.0
    for name in ("coarse.coarse6", "coarse.coarse7"):  # lr 0.1
        for suffix in (".weight", ".bias"):
            change += float((after[name + suffix] - before[name + suffix]).pow(2).sum())
    assert math.sqrt(change) <= 0.1 * clip * 1.001
    assert change > 0

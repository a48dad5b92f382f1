"""The fine stage never hands on something worse than where it started: the coarse prediction."""

import pytest

from msdepth.checkpoint import read_info
from msdepth.train import train
from train_fixtures import digest, tiny_config, tiny_data


@pytest.fixture(scope="module")
def run(module_tmp):
    data = tiny_data(module_tmp / "data")
    cfg = tiny_config(train__coarse_steps=6, train__fine_steps=8, train__val_every=4)
    return train(cfg, data, module_tmp / "run", progress=False), module_tmp / "run"


def test_fine_step_0_is_validated_and_equals_the_coarse_final_validation(run):
    result, _ = run
    step0, metrics = result.stages["fine"].validations[0]
    assert step0 == 0
    coarse = result.stages["coarse"].final_metrics
    assert metrics.keys() == coarse.keys()
    for name, value in coarse.items():
        assert metrics[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name


def test_fine_stage_validates_early_in_the_stage(run):
    result, _ = run
    steps = [step for step, _ in result.stages["fine"].validations]
    assert steps[:3] == [0, 1, 2]  # val_every 4: also at 1/4 and 1/2 of it
    assert steps[-1] == 8


def test_kept_fine_model_is_never_worse_on_validation_than_step_0(run):
    result, folder = run
    fine = result.stages["fine"]
    start = fine.validations[0][1]
    kept = read_info(folder / "model.safetensors")
    assert kept.step == fine.kept_step
    assert kept.metrics["abs_rel"] <= start["abs_rel"]
    assert kept.metrics["delta1"] >= start["delta1"]
    assert min(m["abs_rel"] for _, m in fine.validations) <= kept.metrics["abs_rel"] + 1e-12


def test_kept_fine_model_is_the_best_validated_state(run):
    result, folder = run
    fine = result.stages["fine"]
    eligible = [
        (m["abs_rel"], step)
        for step, m in fine.validations
        if m["delta1"] >= fine.validations[0][1]["delta1"]
    ]
    assert fine.kept_step == min(eligible)[1]
    assert digest(folder / "model.safetensors") == digest(fine.result)


def test_coarse_stage_hands_on_its_last_state(run):
    result, _ = run
    coarse = result.stages["coarse"]
    assert coarse.kept_step == coarse.steps == 6
    assert coarse.result == coarse.checkpoint

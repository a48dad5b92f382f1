"""The fine stage never hands on something worse than where it started: the coarse prediction."""

import pytest

from msdepth.checkpoint import read_info
from msdepth.train import train, trainer
from msdepth.train.validate import clearly_better
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


def test_kept_fine_model_is_step_0_or_better_on_both_metrics(run):
    result, folder = run
    fine = result.stages["fine"]
    start = fine.validations[0][1]
    kept = dict(fine.validations)[fine.kept_step]
    assert fine.kept_step == 0 or (
        kept["abs_rel"] < start["abs_rel"] and kept["delta1"] > start["delta1"]
    )
    assert digest(folder / "model.safetensors") == digest(fine.result)


def test_coarse_stage_hands_on_its_last_state(run):
    result, _ = run
    coarse = result.stages["coarse"]
    assert coarse.kept_step == coarse.steps == 6
    assert coarse.result == coarse.checkpoint


def test_a_refinement_must_beat_step_0_by_two_standard_errors_on_both_metrics():
    reference = {"abs_rel": [0.30, 0.20, 0.40, 0.25], "delta1": [0.5, 0.6, 0.4, 0.55]}
    clear = {"abs_rel": [0.28, 0.19, 0.37, 0.23], "delta1": [0.52, 0.61, 0.43, 0.57]}
    assert clearly_better(clear, reference)
    noisy = {"abs_rel": [0.25, 0.24, 0.35, 0.27], "delta1": [0.52, 0.61, 0.43, 0.57]}
    assert not clearly_better(noisy, reference)  # lower on average, but not beyond the noise
    worse_d1 = {"abs_rel": clear["abs_rel"], "delta1": [0.49, 0.6, 0.4, 0.55]}
    assert not clearly_better(worse_d1, reference)
    assert not clearly_better(reference, reference)


def _per_image(abs_rel_gain: float, noise: float) -> dict[str, list[float]]:
    """Validation per-image metrics of four images, better than (0.3, 0.5) by the gain."""
    wobble = [noise, -noise, noise, -noise]
    return {
        "abs_rel": [0.3 - abs_rel_gain + w for w in wobble],
        "delta1": [0.5 + abs_rel_gain - w for w in wobble],
    }


@pytest.mark.parametrize(
    ("gains", "kept"),
    [
        ((0.0, 0.02, 0.01, 0.0005, 0.004), 1),  # steps 1 and 2 clear, step 1 the lowest
        ((0.0, 0.002, 0.001, 0.003, 0.001), 0),  # lower on average, within the noise: step 0
    ],
)
def test_fine_state_replaces_step_0_only_when_clearly_better(tmp_path, monkeypatch, gains, kept):
    data = tiny_data(tmp_path / "data")
    real_validate = trainer.validate
    scripted = iter(gains)

    def scripted_validate(*args, **kwargs):
        result = real_validate(*args, **kwargs)
        gain = next(scripted)
        per_image = _per_image(gain, noise=0.0 if gain == 0 else 0.005)
        metrics = {**result.metrics, "abs_rel": 0.3 - gain, "delta1": 0.5 + gain}
        return result._replace(metrics=metrics, per_image=per_image)

    cfg = tiny_config(train__coarse_steps=2, train__fine_steps=8, train__val_every=4)
    out = tmp_path / "run"
    train(cfg, data, out, stages=("coarse",), progress=False)
    monkeypatch.setattr(trainer, "validate", scripted_validate)
    fine = train(cfg, data, out, stages=("fine",), progress=False).stages["fine"]
    assert [step for step, _ in fine.validations] == [0, 1, 2, 4, 8]
    assert fine.kept_step == kept

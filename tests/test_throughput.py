"""Training throughput leaves out the first step, which pays for start-up once."""

from msdepth.train import observe
from msdepth.train.observe import Throughput


def test_first_step_is_left_out_of_the_rate(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(observe.time, "perf_counter", lambda: now[0])
    meter = Throughput(images_per_step=8)
    for seconds in (10.0, 1.0, 1.0):  # start-up + step 1 take 10 s, then 1 s a step
        now[0] += seconds
        meter.add_step()
    assert meter.overall() == 8.0  # steps 2 and 3: 16 images in 2 s


def test_a_longer_stage_rate_leaves_out_its_warm_up_steps(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(observe.time, "perf_counter", lambda: now[0])
    meter = Throughput(images_per_step=8)
    for seconds in (10.0, 2.0, 2.0, 2.0) + (1.0,) * 8:  # steps 2-4 warm up at 2 s a step
        now[0] += seconds
        meter.add_step()
    assert meter.overall() == 8.0  # steps 5-12: 64 images in 8 s


def test_a_stage_rate_leaves_out_its_final_validation_and_checkpoint(tmp_path, monkeypatch):
    from msdepth.train import train, trainer
    from train_fixtures import tiny_config, tiny_data

    data = tiny_data(tmp_path / "data")
    real_checkpoint = trainer.Trainer._checkpoint

    def slow_checkpoint(self, *args, **kwargs):
        import time

        time.sleep(4.0)  # a large checkpoint on a slow disk
        return real_checkpoint(self, *args, **kwargs)

    cfg = tiny_config(train__coarse_steps=3, train__fine_steps=1)
    fast = train(cfg, data, tmp_path / "fast", stages=("coarse",), progress=False)
    monkeypatch.setattr(trainer.Trainer, "_checkpoint", slow_checkpoint)
    slow = train(cfg, data, tmp_path / "slow", stages=("coarse",), progress=False)
    rates = [r.stages["coarse"].images_per_second for r in (fast, slow)]
    assert rates[1] > 0.75 * rates[0]  # 4 s of checkpoint would have halved it at least

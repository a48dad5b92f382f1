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

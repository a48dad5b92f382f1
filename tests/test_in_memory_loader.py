"""The in-memory loader: the worker loader's stream, gathered from memory, augmented on the device."""

import threading
import time

import pytest
import torch
from torch.overrides import TorchFunctionMode

from msdepth.config import AugmentConfig
from msdepth.data import in_memory, make_train_loader, open_dataset
from msdepth.data.in_memory import InMemoryFrames, make_memory_loader, resolve_loader
from msdepth.errors import DataError
from train_fixtures import tiny_config, tiny_data

KW = dict(batch_size=2, augment=AugmentConfig(), input_hw=(228, 304), output_hw=(55, 74), seed=3)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _take(loader, n):
    out = []
    for i, b in enumerate(loader):
        if i == n:
            break
        out.append(b)
    return out


def _assert_same_batches(a, b, atol=1e-5):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.image.shape == y.image.shape
        torch.testing.assert_close(x.image.cpu(), y.image.cpu(), rtol=0, atol=atol)
        torch.testing.assert_close(x.depth.cpu(), y.depth.cpu(), rtol=0, atol=atol)
        assert torch.equal(x.mask.cpu(), y.mask.cpu())


def test_device_path_on_the_cpu_gives_the_worker_loaders_batches(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    stream = _take(make_train_loader(ds, workers=0, **KW), 7)  # crosses an epoch (4 batches)
    memory = _take(make_memory_loader(ds, device="cpu", **KW), 7)
    _assert_same_batches(stream, memory)


def test_device_path_applies_the_same_tone_randomisation(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    toned = AugmentConfig(gamma_max=1.6, saturation_min=0.5, saturation_max=1.5)
    kw = {**KW, "augment": toned}
    stream = _take(make_train_loader(ds, workers=0, **kw), 3)
    memory = _take(make_memory_loader(ds, device="cpu", **kw), 3)
    _assert_same_batches(stream, memory)
    plain = _take(make_train_loader(ds, workers=0, **KW), 3)
    assert not torch.allclose(stream[0].image, plain[0].image)


def test_resuming_at_step_k_continues_the_same_stream(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    full = _take(make_train_loader(ds, workers=0, **KW), 7)
    resumed = _take(make_memory_loader(ds, device="cpu", start_step=5, **KW), 2)
    _assert_same_batches(full[5:7], resumed)


def test_each_rank_gets_the_worker_loaders_shard(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    shard = dict(rank=1, world_size=2, **KW)
    _assert_same_batches(
        _take(make_train_loader(ds, workers=0, **shard), 3),
        _take(make_memory_loader(ds, device="cpu", **shard), 3),
    )


def test_channels_last_images_equal_the_nchw_ones(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    nhwc = _take(make_memory_loader(ds, device="cpu", channels_last=True, **KW), 2)
    nchw = _take(make_memory_loader(ds, device="cpu", **KW), 2)
    assert nhwc[0].image.is_contiguous(memory_format=torch.channels_last)
    _assert_same_batches(nhwc, nchw, atol=0)


def test_gathering_ahead_in_a_thread_changes_no_batch(tiny_dataset):
    frames = InMemoryFrames.load(open_dataset(tiny_dataset, "train"), "cpu")
    inline = _take(in_memory.InMemoryLoader(frames, device="cpu", prefetch=False, **KW), 5)
    threaded = _take(in_memory.InMemoryLoader(frames, device="cpu", prefetch=True, **KW), 5)
    _assert_same_batches(inline, threaded, atol=0)


def _loader_threads():
    return [t for t in threading.enumerate() if t.name == "msdepth-in-memory-loader"]


def test_the_gathering_thread_ends_when_the_stream_is_dropped(tiny_dataset):
    frames = InMemoryFrames.load(open_dataset(tiny_dataset, "train"), "cpu")
    batches = iter(in_memory.InMemoryLoader(frames, device="cpu", prefetch=True, **KW))
    next(batches)
    assert _loader_threads()
    batches = iter(())  # what the trainer does at the end of a stage
    deadline = time.monotonic() + 5
    while _loader_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _loader_threads()


def test_frames_are_held_as_stored_uint8_and_float16(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    frames = InMemoryFrames.load(ds, "cpu")
    assert frames.rgb.dtype == torch.uint8 and frames.depth.dtype == torch.float16
    assert torch.equal(frames.rgb, torch.from_numpy(ds.rgb[:].copy()))
    assert frames.nbytes == in_memory.split_nbytes(ds)


def test_auto_is_the_worker_loader_on_the_cpu(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    assert resolve_loader("auto", ds, torch.device("cpu")) == ("workers", None)
    assert resolve_loader("memory", ds, torch.device("cpu")) == ("memory", torch.device("cpu"))


def test_a_split_that_does_not_fit_in_memory_is_one_clear_error(tiny_dataset, monkeypatch):
    ds = open_dataset(tiny_dataset, "train")
    monkeypatch.setattr(in_memory, "host_memory_available", lambda: 1000)
    with pytest.raises(DataError, match=r"do not fit in memory.*train\.loader=workers") as err:
        resolve_loader("memory", ds, torch.device("cpu"))
    assert "\n" not in str(err.value)
    assert resolve_loader("auto", ds, torch.device("cpu")) == ("workers", None)


@pytest.mark.slow
def test_training_with_either_loader_gives_the_same_run(tmp_path):
    from msdepth.train import train

    data = tiny_data(tmp_path / "data")
    runs = {}
    for kind in ("workers", "memory"):
        cfg = tiny_config(train__loader=kind, train__coarse_steps=4, train__val_every=100)
        cfg = cfg.replace("train", checkpoint_every=100, panel_every=100)
        runs[kind] = train(cfg, data, tmp_path / kind, stages="coarse", progress=False)
    workers, memory = (runs[k].stages["coarse"].loss_history for k in ("workers", "memory"))
    assert workers and workers == memory


# Calls that make the host wait for the device (or mean a data-dependent shape, which does).
SYNCING = {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__"}
SYNCING |= {"nonzero", "argwhere", "masked_select", "unique"}


class _RecordReadbacks(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        bool_index = name == "__getitem__" and any(
            isinstance(a, torch.Tensor) and a.dtype == torch.bool for a in args[1:]
        )
        if name in SYNCING or bool_index:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def test_a_training_step_reads_nothing_back_from_the_device(tmp_path):
    from msdepth.train.distributed import setup_distributed
    from msdepth.train.trainer import Trainer

    cfg = tiny_config(train__loader="memory", train__mask_min_max=True, optim__grad_clip=1.0)
    (tmp_path / "run").mkdir()
    trainer = Trainer(
        cfg, tiny_data(tmp_path / "data"), tmp_path / "run", setup_distributed("cpu"), False
    )
    s = trainer._start_stage("coarse", None, None, None)
    trainer._train_step(s)  # the first step may set things up
    s.step += 1
    with _RecordReadbacks() as recorder:
        for _ in range(2):
            trainer._train_step(s)
            s.step += 1
    s.batches = iter(())
    assert recorder.calls == []


@CUDA
def test_cuda_augmentation_matches_the_cpu_stream_within_interpolation_rounding(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    cpu = _take(make_train_loader(ds, workers=0, **KW), 5)
    for store in ("device", "host"):
        gpu = _take(make_memory_loader(ds, device="cuda", store=store, **KW), 5)
        for x, y in zip(cpu, gpu, strict=True):
            assert y.image.is_cuda
            torch.testing.assert_close(y.image.cpu(), x.image, rtol=0, atol=1e-4)
            # nearest-neighbour depth may pick the other pixel at an exact tie
            differ = (y.depth.cpu() - x.depth).abs() > 1e-4
            assert differ.float().mean() < 1e-3


@CUDA
def test_cuda_training_steps_never_synchronise_with_the_host(tmp_path):
    from msdepth.train.distributed import setup_distributed
    from msdepth.train.trainer import Trainer

    cfg = tiny_config(train__device="cuda", train__loader="memory", train__log_every=1000)
    (tmp_path / "run").mkdir()
    trainer = Trainer(
        cfg, tiny_data(tmp_path / "data"), tmp_path / "run", setup_distributed("cuda"), False
    )
    s = trainer._start_stage("coarse", None, None, None)
    trainer._train_step(s)
    s.step += 1
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer._train_step(s)
            s.step += 1
    finally:
        torch.cuda.set_sync_debug_mode("default")
    s.batches = iter(())

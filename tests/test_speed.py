"""Speed switches (msdepth.speed): what each one does, and that it leaves the numbers alone."""

import platform
import resource

import pytest
import torch

from msdepth import allocator, speed
from msdepth.config import AugmentConfig, Config, ModelConfig, OptimConfig
from msdepth.data import make_train_loader, open_dataset
from msdepth.models import MultiScaleDepth
from msdepth.train.optim import make_optimizer


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(speed, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert speed.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(speed, "cpu_flags", lambda: frozenset({"avx512f", "avx2"}))
    assert speed.resolve_precision("auto", "cpu") == "fp32"  # emulated bf16 would be slower


def test_auto_precision_is_fp32_where_the_kernels_are_capped_below_bf16(monkeypatch):
    monkeypatch.setattr(speed, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert speed.resolve_precision("auto", "cpu") == "fp32"  # ATEN_CPU_CAPABILITY=avx2
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert speed.resolve_precision("auto", "cpu") == "fp32"


def test_explicit_precision_is_kept_and_unknown_ones_refused():
    assert speed.resolve_precision("fp32", "cpu") == "fp32"
    assert speed.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="auto, fp32 or bf16"):
        speed.resolve_precision("fp16", "cpu")


def test_precision_defaults_to_auto_and_the_plain_path_stays_reachable():
    assert Config().train.precision == "auto"
    plain = Config().with_overrides(
        ["train.precision=fp32", "train.channels_last=false", "train.fused_sgd=false"]
    )
    assert (plain.train.precision, plain.train.channels_last, plain.train.fused_sgd) == (
        "fp32",
        False,
        False,
    )


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _step_like_work() -> float:
    """Allocate and free 64 MiB blocks (above glibc's mmap threshold), as a train step does."""
    x = torch.ones(16 * 2**20)
    y = x * 2
    return float((y + x)[0])


def _faults_per_step(steps: int) -> list[int]:
    counts = []
    for _ in range(steps):
        before = _minor_faults()
        _step_like_work()
        counts.append(_minor_faults() - before)
    return counts


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_memory_reuse_serves_repeated_steps_without_page_faults():
    # Best of several steps: the heap may still grow once in a while (other allocations of the
    # test process), but a step served from reused memory faults no page at all.
    with allocator.reusing_freed_memory():
        _faults_per_step(5)  # the heap grows to the steps' peak once
        assert min(_faults_per_step(5)) < 1000  # fresh mappings would fault 48k pages
    # glibc's defaults again: fresh mappings fault their pages in (at least the first step; glibc's
    # dynamic mmap threshold may later serve a step from the heap, as seen once in CI)
    assert max(_faults_per_step(3)) > 10_000


def test_fused_sgd_takes_the_same_steps_as_foreach():
    torch.manual_seed(0)
    cfg = ModelConfig(input_width=96, input_height=72)
    models = [MultiScaleDepth(cfg, stage="fine") for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    fused = (True, False)
    opts = [
        make_optimizer(m, OptimConfig(), "fine", fused=f)
        for m, f in zip(models, fused, strict=True)
    ]
    image = torch.rand(2, 3, 72, 96)
    for _ in range(3):
        for model, opt in zip(models, opts, strict=True):
            model(image).square().mean().backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_loader_makes_channels_last_images_with_the_same_values(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    kw = dict(batch_size=2, augment=AugmentConfig(), input_hw=(228, 304), output_hw=(55, 74))
    nchw = next(iter(make_train_loader(ds, workers=0, num_steps=1, **kw)))
    nhwc = next(iter(make_train_loader(ds, workers=1, num_steps=1, channels_last=True, **kw)))
    assert nhwc.image.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(nhwc.image, nchw.image) and torch.equal(nhwc.depth, nchw.depth)

"""Loaders: deterministic and resumable training streams, in-order evaluation."""

import torch

from msdepth.config import AugmentConfig
from msdepth.data import make_eval_loader, make_train_loader, open_dataset


def _take(loader, n):
    out = []
    for i, b in enumerate(loader):
        if i == n:
            break
        out.append(b)
    return out


def test_train_stream_is_the_same_with_or_without_workers(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    kw = dict(
        batch_size=2, augment=AugmentConfig(), input_hw=(228, 304), output_hw=(55, 74), seed=3
    )
    a = _take(make_train_loader(ds, workers=0, **kw), 5)
    b = _take(make_train_loader(ds, workers=2, **kw), 5)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.image, y.image) and torch.equal(x.depth, y.depth)


def test_resuming_at_step_k_continues_the_stream(tiny_dataset):
    ds = open_dataset(tiny_dataset, "train")
    kw = dict(
        batch_size=2,
        augment=AugmentConfig(),
        input_hw=(228, 304),
        output_hw=(55, 74),
        seed=1,
        workers=0,
    )
    full = _take(make_train_loader(ds, **kw), 7)  # crosses an epoch boundary (4 batches/epoch)
    resumed = _take(make_train_loader(ds, start_step=5, **kw), 2)
    assert torch.equal(full[5].image, resumed[0].image)
    assert torch.equal(full[6].depth, resumed[1].depth)


def test_ranks_see_disjoint_samples(tiny_dataset):
    from msdepth.data.loader import StepBatchSampler

    r0 = next(iter(StepBatchSampler(8, 4, seed=0, rank=0, world_size=2)))
    r1 = next(iter(StepBatchSampler(8, 4, seed=0, rank=1, world_size=2)))
    assert not {i for _, i in r0} & {i for _, i in r1}


def test_eval_loader_covers_every_sample_once_in_order(tiny_dataset):
    ds = open_dataset(tiny_dataset, "test")
    batches = list(make_eval_loader(ds, batch_size=3, input_hw=(228, 304), output_hw=(55, 74)))
    assert [b.image.shape[0] for b in batches] == [3, 1]


def test_batch_read_equals_reading_sample_by_sample(tiny_dataset):
    from msdepth.data.loader import _Keyed

    keyed = _Keyed(open_dataset(tiny_dataset, "train"))
    items = [(9, 5), (9, 1), (9, 5), (9, 3)]  # unsorted, with a repeat
    for (k1, rgb1, d1), (k2, rgb2, d2) in zip(
        keyed.__getitems__(items), [keyed[it] for it in items], strict=True
    ):
        assert k1 == k2 and (rgb1 == rgb2).all() and (d1 == d2).all()

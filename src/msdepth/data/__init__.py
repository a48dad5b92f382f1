"""Data: prepared datasets, the paper's augmentation, and loaders."""

from msdepth.data.augment import Batch, augment_batch
from msdepth.data.loader import make_eval_loader, make_train_loader
from msdepth.data.prepared import (
    DatasetWriter,
    PreparedDataset,
    RGBDSample,
    open_dataset,
    read_meta,
)

__all__ = [
    "Batch",
    "DatasetWriter",
    "PreparedDataset",
    "RGBDSample",
    "augment_batch",
    "make_eval_loader",
    "make_train_loader",
    "open_dataset",
    "read_meta",
]

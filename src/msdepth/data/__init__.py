"""Data: prepared datasets, the paper's augmentation, and loaders."""

from msdepth.data.augment import Batch, augment_batch
from msdepth.data.depth_formats import DEPTH_FORMATS, decode_depth
from msdepth.data.loader import make_eval_loader, make_train_loader
from msdepth.data.pairs import PairSpec, list_pairs_csv, list_pairs_folder, load_pair
from msdepth.data.prepared import (
    DatasetWriter,
    PreparedDataset,
    RGBDSample,
    open_dataset,
    read_meta,
)

__all__ = [
    "DEPTH_FORMATS",
    "Batch",
    "DatasetWriter",
    "PairSpec",
    "PreparedDataset",
    "RGBDSample",
    "augment_batch",
    "decode_depth",
    "list_pairs_csv",
    "list_pairs_folder",
    "load_pair",
    "make_eval_loader",
    "make_train_loader",
    "open_dataset",
    "read_meta",
]

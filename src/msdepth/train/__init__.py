"""Training: the paper's two stages, resumable, observable, and distributed under torchrun.

The API is one call, `train(config, data, out)`; `msdepth train` is its command line. See
docs/training.md for the run folder, resuming, time budgets and multi-GPU launch.
"""

from msdepth.train.loss_watch import TrainingDivergedError
from msdepth.train.trainer import StageResult, TrainResult, parse_stages, resume_config, train

__all__ = [
    "StageResult",
    "TrainResult",
    "TrainingDivergedError",
    "parse_stages",
    "resume_config",
    "train",
]

"""Evaluation: the paper's protocol (`protocol`), where samples come from (`sources`), and the
results table beside the paper's rows (`table`)."""

from msdepth.evaluation.protocol import EvalSample, EvalSettings, EvaluationResult, evaluate
from msdepth.evaluation.sources import SampleSource, open_samples
from msdepth.evaluation.table import PAPER_ROWS, results_table

__all__ = [
    "PAPER_ROWS",
    "EvalSample",
    "EvalSettings",
    "EvaluationResult",
    "SampleSource",
    "evaluate",
    "open_samples",
    "results_table",
]

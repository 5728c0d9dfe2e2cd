"""Datasets: generated (or shipped in a package), deterministic given their own seed."""

from nnkit.data import digits, files, planar, regression, seven_segment
from nnkit.data.dataset import DATASETS, TensorData, check_range, split
from nnkit.data.task import TASKS, Task

__all__ = [
    "DATASETS",
    "TASKS",
    "Task",
    "TensorData",
    "check_range",
    "digits",
    "files",
    "planar",
    "regression",
    "seven_segment",
    "split",
]

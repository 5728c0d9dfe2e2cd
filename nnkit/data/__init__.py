"""Datasets: generated (or shipped in a package), deterministic given their own seed."""

from nnkit.data import digits, planar, regression, seven_segment
from nnkit.data.dataset import DATASETS, TASKS, Task, TensorData, check_range, split

__all__ = [
    "DATASETS",
    "TASKS",
    "Task",
    "TensorData",
    "check_range",
    "digits",
    "planar",
    "regression",
    "seven_segment",
    "split",
]

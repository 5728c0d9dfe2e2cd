"""``DATASETS`` and what every dataset returns: tensors, their task, and their sizes.

>>> data = DATASETS.get("circular")(n=100)
>>> data.task, data.in_features, data.out_features, tuple(data.train[0].shape)
('binary', 2, 1, (70, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from nnkit.data.task import TaskName, get_task
from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

DATASETS: Registry[Any] = Registry("dataset", discover=entry_point_discovery("nnkit.datasets"))


@dataclass(frozen=True)
class TensorData:
    """Train, validation and test splits as ``(inputs, targets)`` tensors, and their task.

    Targets are float ``(N, 1)`` 0/1 labels for ``binary``, int64 ``(N,)`` class indices for
    ``multiclass`` and float ``(N, d)`` values for ``regression``. Data read from a user's file
    also carries its feature and label names and the statistics its inputs were standardised
    with, which travel into checkpoints for ``nnkit.predict``.
    """

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    task: TaskName
    classes: int = 0
    features: tuple[str, ...] = ()  # the inputs' names, where the data has them
    labels: tuple[str, ...] = ()  # the class names, in class order
    mean: tuple[float, ...] = ()  # raw inputs = standardised inputs * std + mean
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        get_task(self.task)

    @property
    def in_features(self) -> int:
        return self.train[0].shape[-1]

    def description(self) -> dict[str, Any]:
        """What a checkpoint keeps about the data, as plain values."""
        return {
            "task": self.task,
            "in_features": self.in_features,
            "out_features": self.out_features,
            "classes": self.classes,
            "features": list(self.features),
            "labels": list(self.labels),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def summary(self) -> str:
        """One line: the task, the inputs, the classes and the split sizes."""
        sizes = "/".join(str(len(part[0])) for part in (self.train, self.val, self.test))
        names = f" ({', '.join(self.features)})" if self.features else ""
        classes = f", classes {', '.join(self.labels)}" if self.labels else ""
        scaled = ", standardised by the training split" if self.mean else ""
        return (
            f"data: {self.task} on {self.in_features} inputs{names}{classes}; {sizes} rows{scaled}"
        )

    @property
    def out_features(self) -> int:
        if self.task == "multiclass":
            return self.classes
        return 1 if self.task == "binary" else self.train[1].shape[-1]


def split(
    x: Tensor, y: Tensor, task: TaskName, seed: int, classes: int = 0, fractions=(0.7, 0.15)
) -> TensorData:
    """Shuffle ``(x, y)`` with ``seed`` and cut it into train/val/test (70/15/15 by default)."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    n_train = round(len(x) * fractions[0])
    n_val = round(len(x) * fractions[1])
    cuts = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, None))
    train, val, test = ((x[c], y[c]) for c in cuts)
    return TensorData(train, val, test, task, classes)


def train_split(dataset: str, train_fraction: float) -> tuple[float, float]:
    """The split's fractions for ``train_fraction`` of the points in training, the rest shared
    evenly by validation and test (the TensorFlow Playground's "ratio of training data").

    >>> train_split("circular", 0.5)
    (0.5, 0.25)
    """
    check_range(dataset, "train_fraction", train_fraction, 0.1, 0.9, low_inclusive=True)
    return train_fraction, (1 - train_fraction) / 2


MAX_VALUES = 100_000_000  # numbers a generated dataset may hold (400 MB of float32)


def check_size(dataset: str, samples: int, features: int) -> None:
    """Raise a one-line ``ValueError`` before generating more than ``MAX_VALUES`` numbers.

    >>> check_size("circular", 10**9, 2)
    Traceback (most recent call last):
    ...
    ValueError: dataset 'circular': 1000000000 samples of 2 values would need 7.5 GiB; nnkit generates at most 100000000 values (0.37 GiB)
    """  # noqa: E501
    if samples * features > MAX_VALUES:
        raise ValueError(
            f"dataset '{dataset}': {samples} samples of {features} values would need "
            f"{samples * features * 4 / 2**30:.1f} GiB; nnkit generates at most {MAX_VALUES} "
            f"values ({MAX_VALUES * 4 / 2**30:.2f} GiB)"
        )


def check_range(
    dataset: str,
    name: str,
    value: float,
    low: float,
    high: float | None = None,
    *,
    low_inclusive: bool = False,
) -> None:
    """Raise a one-line ``ValueError`` unless ``low < value`` (or ``<=``) and ``value <= high``.

    >>> check_range("circular", "radius", -1.0, 0.0)
    Traceback (most recent call last):
    ...
    ValueError: dataset 'circular': radius=-1.0 is out of range (valid: radius > 0.0)
    """
    above = value >= low if low_inclusive else value > low
    below = high is None or value <= high
    if not (above and below):
        lower = f"{name} >= {low}" if low_inclusive else f"{name} > {low}"
        valid = lower if high is None else f"{lower} and <= {high}"
        raise ValueError(f"dataset '{dataset}': {name}={value} is out of range (valid: {valid})")

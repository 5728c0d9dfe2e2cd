"""Everything a task decides, in one table: ``TASKS["binary"]``, ``["multiclass"]``,
``["regression"]``.

A task says which loss it uses by default and which losses fit it, which metrics are logged,
which metrics are logged and which is monitored (for ``best.ckpt``) and in which direction,
what counts as a prediction, and which figure shows what was learned. Adding a task is one
entry here (and its metrics' computation in ``nnkit.training.task_metrics``).

Models output raw scores. A loss that takes ``"logits"`` gets them as they are; a loss that
takes ``"values"`` (the article's MSE) gets them through a sigmoid for classification, as the
article's output neurons do. Dense-target losses get one-hot targets for multiclass.

>>> TASKS["binary"].monitor, TASKS["binary"].mode
('val/acc', 'max')
>>> check_loss_fits("regression", "cross_entropy", inputs="logits", targets="index")
Traceback (most recent call last):
...
ValueError: loss 'cross_entropy' needs a multiclass task, but the data is regression (choose a loss from: mse)
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from nnkit.maths.functions import sigmoid
from nnkit.registry import unknown_name_message

TaskName = Literal["binary", "multiclass", "regression"]


def _class_index(outputs: Tensor) -> Tensor:
    return outputs.argmax(dim=-1)  # (N,)


def _label(outputs: Tensor) -> Tensor:
    return (outputs >= 0).to(outputs.dtype)  # (N, 1): sigmoid(score) >= 0.5


def _same(outputs: Tensor) -> Tensor:
    return outputs


@dataclass(frozen=True)
class Task:
    """What one kind of data decides for a run."""

    name: str
    default_loss: str  # what loss=auto means
    losses: tuple[str, ...]  # the built-in losses that fit
    monitor: str  # the metric best.ckpt is chosen by
    mode: str  # "max" or "min": which direction of ``monitor`` is better
    predict: Callable[[Tensor], Tensor]  # raw outputs -> predictions
    figures: tuple[str, ...]  # the figures drawn for it, where the data's shape allows
    squash_values: bool  # a "values" loss compares sigmoid(outputs), as the article's neurons
    integer_targets: bool  # metrics take int64 targets
    metric_names: tuple[str, ...]  # the metrics a run logs, besides the loss (computed by
    # nnkit.training.task_metrics)


TASKS: dict[str, Task] = {
    "binary": Task(
        "binary", "bce", ("bce", "mse"), "val/acc", "max", _label,
        ("decision_boundary", "hidden_units"), True, True, ("acc",),
    ),
    "multiclass": Task(
        "multiclass", "cross_entropy", ("bce", "cross_entropy", "mse"), "val/acc", "max",
        _class_index,
        ("decision_boundary", "hidden_units", "confusion_matrix"), True,
        True, ("acc",),
    ),
    "regression": Task(
        "regression", "mse", ("mse",), "val/loss", "min", _same,
        ("fitted_curve", "fitted_surface", "hidden_units"), False, False, ("mse", "r2"),
    ),
}  # fmt: skip


def get_task(name: str) -> Task:
    """The task called ``name``; a one-line ``ValueError`` for any other name."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' (choose from: {', '.join(TASKS)})")
    return TASKS[name]


def logged_metrics(task: str, replicas: int = 1) -> list[str]:
    """Every metric a run of ``task`` logs: ``train/loss``, ``val/acc``, ... (with replicas,
    also each one's ``_min`` and ``_max``).

    >>> logged_metrics("regression")[:3]
    ['train/loss', 'train/mse', 'train/r2']
    """
    names = ["loss", *TASKS[task].metric_names]
    keys = [f"{stage}/{name}" for stage in ("train", "val", "test") for name in names]
    spread = [f"{k}{s}" for k in keys for s in ("_min", "_max")] if replicas > 1 else []
    return keys + spread


def resolve_objective(task: str, key: str, replicas: int = 1) -> tuple[str, str]:
    """``objective`` as (metric, "max" or "min"): ``auto`` is the task's own (``val/acc``, or
    ``val/loss`` for regression), else any validation metric; accuracy and R² are maximised,
    losses and errors minimised.

    >>> resolve_objective("binary", "auto")
    ('val/acc', 'max')
    >>> resolve_objective("regression", "val/r2")
    ('val/r2', 'max')
    """
    if key == "auto":
        return TASKS[task].monitor, TASKS[task].mode
    names = [n for n in logged_metrics(task, replicas) if n.startswith("val/")]
    if key not in names:
        raise ValueError(unknown_name_message("objective", key, names))
    base = key.removesuffix("_min").removesuffix("_max")
    return key, "max" if base.endswith(("acc", "r2")) else "min"


def check_loss_fits(task: str, name: str, inputs: str, targets: str) -> None:
    """Raise a one-line ``ValueError`` if a loss cannot serve ``task``."""
    if targets == "index" and task != "multiclass":
        problem = "needs a multiclass task"
    elif inputs == "logits" and not TASKS[task].squash_values:
        problem = "needs a classification task"
    else:
        return
    raise ValueError(
        f"loss '{name}' {problem}, but the data is {task} "
        f"(choose a loss from: {', '.join(TASKS[task].losses)})"
    )


@dataclass(frozen=True)
class LossFeed:
    """How a task's data meets a loss: whether the outputs go through the sigmoid first (a
    ``"values"`` loss on classification, as the article's output neurons), and whether class
    indices become one-hot rows (a ``"dense"``-target loss on multiclass data)."""

    squash: bool
    one_hot: bool

    def targets(self, y: Tensor, classes: int, dtype: torch.dtype) -> Tensor:
        """The targets as the loss takes them."""
        if not self.one_hot:
            return y
        return torch.nn.functional.one_hot(y, classes).to(dtype)  # (N, C)


def loss_feed(task: str, loss: Any) -> LossFeed:
    """How ``task``'s outputs and targets are fed to ``loss``."""
    inputs, targets = getattr(loss, "inputs", "values"), getattr(loss, "targets", "dense")
    return LossFeed(
        squash=inputs == "values" and TASKS[task].squash_values,
        one_hot=targets == "dense" and task == "multiclass",
    )


def loss_inputs(task: str, loss: Any) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """A function mapping (model outputs, data targets) to what ``loss`` takes; the squashing
    sigmoid runs on the loss's own backend (hand-derived, or torch's)."""
    feed = loss_feed(task, loss)
    squash = torch.sigmoid if getattr(loss, "backend", "nnkit") == "torch" else sigmoid

    def prepare(outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        y = feed.targets(y, outputs.shape[-1], outputs.dtype)
        return (squash(outputs) if feed.squash else outputs), y

    return prepare


def predictions(task: str, outputs: Tensor) -> Tensor:
    """Class indices (multiclass), 0/1 labels (binary: score >= 0, i.e. sigmoid >= 0.5), or the
    outputs themselves (regression)."""
    return TASKS[task].predict(outputs)


def confusion_counts(labels: Tensor, predicted: Tensor, classes: int) -> Tensor:
    """``(classes, classes)`` counts of (label, prediction) pairs: the confusion matrix.

    >>> confusion_counts(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    counts = torch.zeros(classes, classes, dtype=torch.int64)
    labels, predicted = labels.flatten().long(), predicted.flatten().long()
    counts.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    return counts

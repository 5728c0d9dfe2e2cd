"""How a task (binary, multiclass, regression) meets a loss: what the loss is fed, and what
counts as a prediction. Plain torch; the LightningModule uses it.

Models output raw scores. A loss that takes ``"logits"`` gets them as they are; a loss that
takes ``"values"`` (the article's MSE) gets them through a sigmoid for classification, as the
article's output neurons do. Dense-target losses get one-hot targets for multiclass.

>>> check_loss_fits("regression", "cross_entropy", inputs="logits", targets="index")
Traceback (most recent call last):
...
ValueError: loss 'cross_entropy' needs a multiclass task, but the data is regression (choose a loss from: mse)
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from nnkit.data.dataset import Task

DEFAULT_LOSS: dict[str, str] = {"binary": "bce", "multiclass": "cross_entropy", "regression": "mse"}
_FITTING = {
    "binary": ("bce", "mse"),
    "multiclass": ("bce", "cross_entropy", "mse"),
    "regression": ("mse",),
}


def check_loss_fits(task: Task, name: str, inputs: str, targets: str) -> None:
    """Raise a one-line ``ValueError`` if a loss cannot serve ``task``."""
    if targets == "index" and task != "multiclass":
        problem = "needs a multiclass task"
    elif inputs == "logits" and task == "regression":
        problem = "needs a classification task"
    else:
        return
    raise ValueError(
        f"loss '{name}' {problem}, but the data is {task} "
        f"(choose a loss from: {', '.join(_FITTING[task])})"
    )


def loss_inputs(
    task: Task, inputs: str, targets: str, squash: Callable[[Tensor], Tensor]
) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """A function mapping (model outputs, data targets) to what the loss takes."""
    squash_outputs = inputs == "values" and task != "regression"
    one_hot = targets == "dense" and task == "multiclass"

    def prepare(outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        if one_hot:
            y = torch.nn.functional.one_hot(y, outputs.shape[-1]).to(outputs.dtype)  # (N, C)
        return (squash(outputs) if squash_outputs else outputs), y

    return prepare


def predictions(task: Task, outputs: Tensor) -> Tensor:
    """Class indices (multiclass), 0/1 labels (binary: score >= 0, i.e. sigmoid >= 0.5), or the
    outputs themselves (regression)."""
    if task == "multiclass":
        return outputs.argmax(dim=-1)  # (N,)
    if task == "binary":
        return (outputs >= 0).to(outputs.dtype)  # (N, 1)
    return outputs

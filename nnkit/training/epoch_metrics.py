"""A task's metrics of one whole split, in a few tensor operations: the values torchmetrics'
``Accuracy``, ``MeanSquaredError`` and ``R2Score`` give (``tests/test_epoch_loop.py`` compares
them), without their per-call work, for the engine's epoch loop, which computes them every
data epoch.

- binary and multiclass: accuracy, the share of labels predicted right (torchmetrics'
  ``Accuracy`` averages over all labels, "micro", by default);
- regression (one output): the mean squared error and R² = 1 − SS_res / SS_tot.

>>> preds, target = torch.tensor([[0, 1, 1, 2]]), torch.tensor([[0, 1, 2, 2]])
>>> split_metrics("multiclass", preds, target)["acc"].tolist()
[0.75]
"""

from __future__ import annotations

import torch
from torch import Tensor


def split_metrics(task: str, preds: Tensor, target: Tensor) -> dict[str, Tensor]:
    """The task's metrics (named as ``Task.metric_names``) of predictions ``preds`` (what
    ``Task.predict`` gives) against ``target``, one value per entry of their leading dimension:
    several epochs' predictions at once, ``(K, N, ...)`` -> ``(K,)``."""
    if task in ("binary", "multiclass"):
        return {"acc": (preds == target).to(torch.float32).flatten(1).mean(1)}
    return _regression(preds, target)


def _regression(preds: Tensor, target: Tensor) -> dict[str, Tensor]:
    errors = (preds - target).flatten(1)
    target = target.flatten(1)
    spread = target - target.mean(1, keepdim=True)
    residual, total = (errors * errors).sum(1), (spread * spread).sum(1)
    return {
        "mse": (residual / errors.shape[1]).to(torch.float32),
        "r2": (1 - residual / total).to(torch.float32),
    }

"""A task's metrics as a run computes them: torchmetrics' ``MetricCollection`` of the names
``nnkit.data.task.TASKS`` declares — accuracy for classification, MSE and R² for regression —
one value per replica where a run trains several; the engine's epoch loop computes the same
values for whole splits at once (``nnkit.training.epoch_metrics``).

>>> sorted(metric_collection("regression", 0, 1, "val/"))
['val/mse', 'val/r2']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from torch import Tensor

from nnkit.data.task import TASKS


def _accuracy(kind: Literal["binary", "multiclass"]) -> Callable[[int, int, int], dict[str, Any]]:
    def metrics(classes: int, outputs: int, replicas: int = 1) -> dict[str, Any]:
        """Accuracy; per replica (the leading dimension) when there are several."""
        import torchmetrics

        extra: dict[str, Any] = {"num_classes": classes} if kind == "multiclass" else {}
        if replicas > 1:
            extra["multidim_average"] = "samplewise"
        return {"acc": torchmetrics.Accuracy(task=kind, **extra)}

    return metrics


def _regression_metrics(classes: int, outputs: int, replicas: int = 1) -> dict[str, Any]:
    """MSE and R²; with several replicas, one value per replica (``replica_columns`` layout)."""
    import torchmetrics

    if replicas > 1:
        return {
            "mse": torchmetrics.MeanSquaredError(num_outputs=replicas),
            "r2": torchmetrics.R2Score(multioutput="raw_values"),
        }
    return {
        "mse": torchmetrics.MeanSquaredError(num_outputs=outputs),
        "r2": torchmetrics.R2Score(multioutput="uniform_average"),
    }


def replica_columns(values: Tensor) -> Tensor:
    """``(R, N, d)`` regression values as ``(N * d, R)``: one column per replica."""
    return values.flatten(1).T


METRICS: dict[str, Callable[..., dict[str, Any]]] = {
    "binary": _accuracy("binary"),
    "multiclass": _accuracy("multiclass"),
    "regression": _regression_metrics,
}


def metric_collection(task: str, classes: int, outputs: int, prefix: str, replicas: int = 1) -> Any:
    """The task's metrics as one torchmetrics ``MetricCollection``, their keys starting with
    ``prefix``; one value per replica when there are several."""
    from torchmetrics import MetricCollection

    metrics = METRICS[task](classes, outputs, replicas)
    assert tuple(metrics) == TASKS[task].metric_names, "the task declares what is logged"
    return MetricCollection(metrics, prefix=prefix)

"""Users' own data: ``data=csv`` (a table with a header) and ``data=npz`` (NumPy arrays).

A file becomes a ``TensorData`` in four plain steps: read it into a ``Table`` (features as
float64, targets as read), infer the task from the targets (strings or whole numbers are class
labels, other numbers are values; ``task=`` overrides), split it by ``seed`` (or by a
``split_column`` holding train/val/test), and standardise the features with statistics from
the training split alone. Feature names, label names and those statistics travel with the data
into the checkpoint, so ``nnkit.predict`` takes raw values and answers label names.

Files are read by ``nnkit.data.tables``.

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "t.csv").write_text("a,b,label\\n" + "".join(
...     f"{i},{i % 3},{'yes' if i % 2 else 'no'}\\n" for i in range(20)))
>>> data = csv_file(str(folder / "t.csv"), target="label")
>>> data.task, data.labels, data.features, len(data.train[0])
('binary', ('no', 'yes'), ('a', 'b'), 14)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from nnkit.data.dataset import DATASETS, TensorData, split
from nnkit.data.tables import Table, existing_file, read_csv_table, read_npz_table
from nnkit.data.task import TaskName
from nnkit.registry import did_you_mean

FILE_TASKS = ("auto", "binary", "multiclass", "regression")


def labels_of(targets: np.ndarray) -> list[str] | None:
    """The class labels of ``targets`` in order (numerically when they are whole numbers), or
    None when they are real values (a regression)."""
    try:
        values = targets.astype(np.float64)
    except ValueError:
        return sorted({str(t) for t in targets})  # words: class labels
    if not np.isfinite(values).all():
        raise ValueError("targets must be finite numbers or labels")
    if np.any(values != np.round(values)):
        return None
    return [str(int(v)) for v in np.unique(values)]


def infer_task(table: Table, task: str) -> tuple[TaskName, list[str]]:
    """The task (``auto``: labels → binary or multiclass, real values → regression) and the
    label names; a one-line error where the targets cannot serve ``task``."""
    if task not in FILE_TASKS:
        raise ValueError(
            f"data.task={task!r} is not valid{did_you_mean(task, FILE_TASKS)} "
            f"(choose from: {', '.join(FILE_TASKS)})"
        )
    where = f"{table.source}, target {table.target_name!r}"
    labels = None if task == "regression" else labels_of(table.targets)
    if task == "regression":
        try:
            table.targets.astype(np.float64)
        except ValueError:
            raise ValueError(f"data.task=regression needs numbers; {where} holds labels") from None
        return "regression", []
    if labels is None:
        if task == "auto":
            return "regression", []
        raise ValueError(f"data.task={task} needs class labels; {where} holds real values")
    if len(labels) < 2:
        raise ValueError(f"{where} holds one class ({labels[0]!r}): nothing to tell apart")
    if task == "binary" and len(labels) > 2:
        raise ValueError(f"data.task=binary needs 2 classes; {where} holds {len(labels)}")
    if task == "auto":
        return ("binary" if len(labels) == 2 else "multiclass"), labels
    return ("binary" if task == "binary" else "multiclass"), labels


def _target_tensor(table: Table, task: str, labels: list[str]) -> torch.Tensor:
    if task == "regression":
        return torch.tensor(table.targets.astype(np.float64), dtype=torch.float32).unsqueeze(1)
    as_text = labels_of(table.targets) is not None and table.targets.dtype.kind in "iuf"
    keys = [str(int(float(t))) for t in table.targets] if as_text else table.targets.astype(str)
    index = {label: i for i, label in enumerate(labels)}
    ids = torch.tensor([index[k] for k in keys], dtype=torch.int64)  # (N,)
    return ids.float().unsqueeze(1) if task == "binary" else ids


def _split(
    x: torch.Tensor, y: torch.Tensor, table: Table, task: TaskName, seed: int, classes: int
) -> TensorData:
    if table.splits is None:
        data = split(x, y, task, seed, classes)
    else:
        parts = [torch.from_numpy(np.flatnonzero(table.splits == i)) for i in range(3)]
        train, val, test = ((x[p], y[p]) for p in parts)
        data = TensorData(train, val, test, task, classes)
    sizes = [len(part[0]) for part in (data.train, data.val, data.test)]
    if min(sizes) == 0:
        raise ValueError(
            f"{table.source} has {len(x)} rows: its train/val/test splits would hold "
            f"{'/'.join(map(str, sizes))} (each needs at least one row; a seeded split "
            f"needs at least 6 rows)"
        )
    return data


def to_tensor_data(table: Table, task: str, seed: int, standardize: bool = True) -> TensorData:
    """The table as split tensors, standardised unless ``standardize`` is false (the features
    as they are: points drawn on a plane), with its names and statistics."""
    task, labels = infer_task(table, task)
    x = torch.tensor(table.features, dtype=torch.float64)  # (N, F)
    y = _target_tensor(table, task, labels)
    data = _split(x, y, table, task, seed, len(labels) if task == "multiclass" else 0)
    mean = data.train[0].mean(dim=0)  # (F,)
    std = data.train[0].std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant column stays as it is
    if not standardize:
        mean, std = torch.zeros_like(mean), torch.ones_like(std)

    def scaled(part: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return ((part[0] - mean) / std).float(), part[1]

    return replace(
        data,
        train=scaled(data.train),
        val=scaled(data.val),
        test=scaled(data.test),
        features=tuple(table.feature_names),
        labels=tuple(labels),
        mean=tuple(mean.tolist()),
        std=tuple(std.tolist()),
    )


@DATASETS.register("csv")
def csv_file(
    path: str = "",
    target: str = "",
    features: list[str] | None = None,
    delimiter: str = ",",
    header: bool = True,
    task: str = "auto",
    split_column: str = "",
    seed: int = 0,
    standardize: bool = True,
) -> TensorData:
    """A CSV file: ``target`` names the column to predict (default: the last), ``features``
    the input columns (default: all others); ``split_column``, if given, holds train/val/test
    for each row (else a 70/15/15 split by ``seed``); ``task`` is inferred unless given; the
    features are standardised by the training split's statistics unless ``standardize`` is
    false."""
    file = existing_file(path, (".csv", ".txt", ".tsv"), "csv")
    table = read_csv_table(file, target, features, delimiter, header, split_column)
    return to_tensor_data(table, task, seed, standardize)


@DATASETS.register("npz")
def npz_file(
    path: str = "", target: str = "y", features: str = "x", task: str = "auto", seed: int = 0
) -> TensorData:
    """NumPy data: an ``.npz`` with arrays ``features`` (N, F) and ``target`` (N,), or an
    ``.npy`` of features with ``target`` the path of an ``.npy`` of targets."""
    file = existing_file(path, (".npz", ".npy"), "npz")
    return to_tensor_data(read_npz_table(file, target, features), task, seed)


csv_file.reads_files = True
npz_file.reads_files = True

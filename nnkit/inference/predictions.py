"""A trained model's answers: for one input, or for every row of a file, as a CSV of
``prediction`` and, for classification, each class's probability, written without a Python
loop over the rows (a million rows in well under a second).

>>> print(prediction_table({"task": "binary", "labels": ["no", "yes"]},
...                        torch.tensor([[2.0], [-1.0]])).decode(), end="")
prediction,p_no,p_yes
yes,0.119203,0.880797
no,0.731059,0.268941
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnkit.data.tables import read_inputs
from nnkit.data.task import predictions
from nnkit.errors import ConfigError
from nnkit.inference.load import load_model, net_inputs, outputs_of
from nnkit.runs.storage import write_atomic


def class_names(sizes: dict[str, Any]) -> list[str]:
    """The names of the classes, in class order: the data's labels, or 0, 1, ..."""
    count = 2 if sizes["task"] == "binary" else sizes.get("classes", 0)
    return list(sizes.get("labels") or [str(i) for i in range(count)])


def prediction_table(sizes: dict[str, Any], outputs: torch.Tensor) -> bytes:
    """The CSV: ``prediction`` and, for classification, ``p_LABEL`` for each class
    (probabilities to 6 decimals)."""
    task = sizes["task"]
    if task == "regression":
        width = outputs.shape[1]
        columns = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        return (csv_line(columns) + csv_lines(outputs.double().tolist())).encode()
    names = class_names(sizes)
    scores = outputs.sigmoid() if task == "binary" else outputs.softmax(dim=-1)
    probabilities = torch.cat([1 - scores, scores], 1) if task == "binary" else scores  # (N, C)
    header = csv_line(["prediction", *(f"p_{n}" for n in names)]).encode()
    return header + probability_rows(names, probabilities.double().numpy())


def csv_line(cells: list[Any]) -> str:
    """One CSV line (quoted where a cell needs it)."""
    return csv_lines([cells])


def csv_lines(rows: list[list[Any]]) -> str:
    """CSV lines, numbers formatted by the ``csv`` module (in C)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue()


def probability_rows(names: list[str], probabilities: np.ndarray) -> bytes:
    """``LABEL,0.dddddd,...`` for every row, the most probable class's label first: built as
    one byte array (a padded row each, the padding dropped), with no Python loop over rows.

    >>> probability_rows(["no", "yes"], np.array([[0.25, 0.75], [1.0, 0.0]]))
    b'yes,0.250000,0.750000\\nno,1.000000,0.000000\\n'
    """
    labels = [csv_line([name]).rstrip("\n").encode() for name in names]
    width = max(map(len, labels))
    label_bytes = np.zeros((len(names), width), dtype=np.uint8)
    for i, label in enumerate(labels):
        label_bytes[i, : len(label)] = np.frombuffer(label, dtype=np.uint8)
    micro = np.round(probabilities * 1e6).astype(np.int64)  # (N, C) in 0..1_000_000
    digits = micro[..., None] // 10 ** np.arange(6, -1, -1) % 10  # (N, C, 7)
    fields = np.empty((*micro.shape, 9), dtype=np.uint8)  # ",d.dddddd"
    fields[..., 0], fields[..., 1], fields[..., 2] = ord(","), digits[..., 0] + 48, ord(".")
    fields[..., 3:] = digits[..., 1:] + 48
    rows = np.concatenate(
        [
            label_bytes[probabilities.argmax(axis=1)],
            fields.reshape(len(micro), -1),
            np.full((len(micro), 1), ord("\n"), dtype=np.uint8),
        ],
        axis=1,
    )
    return rows[rows != 0].tobytes()


def predict(
    ckpt: str, values: Sequence[float], replica: str | None = None
) -> tuple[Any, list[float]]:
    """The prediction for one input (a label name where the data had them), and the model's
    raw outputs."""
    net, sizes = load_model(ckpt, replica)
    what = f"input={list(values)}"
    outputs = outputs_of(net, net_inputs(torch.tensor([values]), sizes, what), what)  # (1, out)
    answer = predictions(sizes["task"], outputs)[0]
    if sizes["task"] == "regression":
        return answer.tolist(), outputs[0].tolist()
    return class_names(sizes)[int(answer)], outputs[0].tolist()


def predict_file(
    ckpt: str, path: str, output: str | None = None, replica: str | None = None
) -> tuple[Path, int]:
    """Predict every row of ``path`` (CSV, ``.npy`` or ``.npz``) and write a CSV of
    predictions — and, for classification, each class's probability — to ``output`` (by
    default beside the input: ``NAME.predictions.csv``). Returns the file and the row count."""
    net, sizes = load_model(ckpt, replica)
    try:
        raw = read_inputs(Path(path), sizes.get("features") or [], sizes["in_features"])
    except ValueError as error:
        raise ConfigError(str(error)) from error
    outputs = outputs_of(net, net_inputs(torch.from_numpy(raw), sizes, f"input={path}"), path)
    target = Path(output) if output else Path(path).with_suffix(".predictions.csv")
    write_atomic(target, prediction_table(sizes, outputs))
    return target, len(outputs)

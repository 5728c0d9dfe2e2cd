"""``python -m nnkit.data.export NAME FILE.csv [key=value ...]``: a built-in dataset as a CSV
file — feature columns, the target, and a ``split`` column — so ``data=csv`` can be tried on
a known table (``data.split_column=split`` reproduces the built-in split exactly).

>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "circle.csv"
>>> export("circular", path, n=20)
20
>>> path.read_text().splitlines()[0]
'x0,x1,label,split'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnkit.data.dataset import DATASETS, TensorData
from nnkit.runs.storage import write_atomic

SPLITS = ("train", "val", "test")


def table(data: TensorData) -> tuple[list[str], np.ndarray, list[str]]:
    """Column names, the numeric columns ``(N, F + targets)`` and each row's split."""
    x = torch.cat([data.train[0], data.val[0], data.test[0]])  # (N, F)
    y = torch.cat([data.train[1], data.val[1], data.test[1]])
    y = y.unsqueeze(1) if y.dim() == 1 else y  # (N, targets)
    names = list(data.features) or [f"x{i}" for i in range(x.shape[1])]
    targets = ["label"] if data.task != "regression" else [f"y{i}" for i in range(y.shape[1])]
    targets = ["y"] if targets == ["y0"] else targets
    splits = [
        name for name, part in zip(SPLITS, (data.train, data.val, data.test)) for _ in part[0]
    ]
    return [*names, *targets], torch.cat([x.double(), y.double()], 1).numpy(), splits


def export(name: str, path: Path, **params: Any) -> int:
    """Write dataset ``name`` (with ``params``) to ``path``; the number of rows."""
    columns, values, splits = table(DATASETS.get(name)(**params))
    formats = ["%.9g"] * (values.shape[1] - 1) + ["%d" if columns[-1] == "label" else "%.9g"]
    cells = np.stack([np.char.mod(f, values[:, i]) for i, f in enumerate(formats)], 1)
    lines = [",".join([*row, split]) for row, split in zip(cells.tolist(), splits, strict=True)]
    write_atomic(path, ("\n".join([",".join([*columns, "split"]), *lines]) + "\n").encode())
    return len(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: NAME FILE.csv [key=value ...] (values as Python literals)."""
    import ast

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or any("=" not in a for a in args[2:]):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    params = {}
    for arg in args[2:]:
        key, value = arg.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    try:
        rows = export(args[0], Path(args[1]), **params)
    except (KeyError, TypeError, ValueError, OSError) as error:
        print(f"nnkit.data.export: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {rows} rows of {args[0]} to {args[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

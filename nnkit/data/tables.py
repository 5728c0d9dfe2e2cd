"""Reading users' files into a ``Table``: CSV with the standard ``csv`` module, ``.npz`` and
``.npy`` with NumPy (no pandas, whose import alone outweighs what a table of numbers needs).

A bad file is one ``ValueError`` line naming the file, the line and the column; a file too large
for memory is refused before it is read.

>>> import tempfile
>>> file = Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = file.write_text("a,b,label\\n1,2,yes\\n3,,no\\n")
>>> read_csv_table(file, "label", None, ",", True, "")
Traceback (most recent call last):
...
ValueError: ... line 3, column 'b': empty cell (features must be finite numbers; choose columns with data.features=[...])
"""  # noqa: E501

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnkit.data.delimiters import delimiter_character, refuse_another_delimiter
from nnkit.registry import did_you_mean

SPLIT_NAMES = {"train": 0, "val": 1, "valid": 1, "validation": 1, "test": 2}
CSV_MEMORY_FACTOR = 12  # bytes of Python objects per byte of CSV text while it is parsed
NPZ_MEMORY_FACTOR = 3  # the arrays, their float copy, the tensors


@dataclass
class Table:
    """A file's rows: numeric features, the targets as read, and an optional split."""

    source: str  # the file, for messages
    features: np.ndarray  # (N, F) float64
    feature_names: list[str]
    targets: np.ndarray  # (N,) str or number
    target_name: str
    splits: np.ndarray | None = None  # (N,) 0 train, 1 val, 2 test


def check_memory(path: Path, factor: int) -> None:
    """Refuse a file that would need more than half the free memory to read."""
    size = path.stat().st_size
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if size * factor > free // 2:
        raise ValueError(
            f"data.path={path} is {size / 2**30:.2f} GiB; reading it needs about "
            f"{size * factor / 2**30:.1f} GiB of memory and {free / 2**30:.1f} GiB is free "
            f"(at most half is used): train on a sample of it, or save it as .npz (about "
            f"{NPZ_MEMORY_FACTOR}x its size)"
        )


def existing_file(path: str, suffixes: Sequence[str], dataset: str) -> Path:
    """``path`` as an existing file with one of ``suffixes``; a one-line error otherwise."""
    if not path:
        raise ValueError(f"data={dataset} needs data.path=FILE ({' or '.join(suffixes)})")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"data.path={path} does not exist (or is not a file)")
    if file.suffix.lower() not in suffixes:
        raise ValueError(f"data.path={path} should end in {' or '.join(suffixes)}")
    return file


def read_csv_rows(file: Path, delimiter: str, header: bool) -> tuple[list[str], list[list[str]]]:
    """The column names (``0, 1, ...`` without a header) and the rows, all the same width;
    ``delimiter`` is one character."""
    check_memory(file, CSV_MEMORY_FACTOR)
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"data.path={file} is not a readable CSV text file ({error})") from None
    if not rows:
        raise ValueError(f"data.path={file} is empty")
    names = [name.strip() for name in rows[0]] if header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"data.path={file} has no data rows, only a header")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{file}: column names repeat ({', '.join(map(repr, repeated))})")
    for number, row in enumerate(body, start=2 if header else 1):
        if len(row) != len(names):
            raise ValueError(
                f"{file} line {number} has {len(row)} fields; "
                f"{'the header has' if header else 'the first line has'} {len(names)}"
            )
    return names, body


def column(names: list[str], name: str, file: Path, key: str) -> int:
    """The index of column ``name``; a one-line error with a did-you-mean otherwise."""
    if name in names:
        return names.index(name)
    raise ValueError(
        f"{key}={name!r} is not a column of {file}{did_you_mean(name, names)} "
        f"(columns: {', '.join(names)})"
    )


def numbers(cells: Sequence[str], file: Path, name: str, first_line: int) -> np.ndarray:
    """A column of cells as float64; an empty, non-numeric or non-finite cell is an error
    naming its line."""
    try:
        values = np.asarray(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values
    for offset, cell in enumerate(cells):
        problem = _cell_problem(cell, values, offset)
        if problem:
            raise ValueError(
                f"{file} line {first_line + offset}, column {name!r}: {problem} (features "
                f"must be finite numbers; choose columns with data.features=[...])"
            )
    assert values is not None
    return values


def _cell_problem(cell: str, values: np.ndarray | None, index: int) -> str:
    if values is not None and math.isfinite(values[index]):
        return ""
    if not cell.strip():
        return "empty cell"
    try:
        value = float(cell)
    except ValueError:
        return f"{cell!r} is not a number"
    return f"{value} is not a finite number" if not math.isfinite(value) else ""


def read_csv_table(
    file: Path,
    target: str,
    features: Sequence[str] | None,
    delimiter: str,
    header: bool,
    split_column: str,
) -> Table:
    """A CSV file as a ``Table``: ``target`` (default: the last column but the split column),
    ``features``
    (default: every other column), and the optional ``split_column``."""
    character = delimiter_character(delimiter)
    names, rows = read_csv_rows(file, character, header)
    target = target or [name for name in names if name != split_column][-1]
    if header and (target not in names or len(names) == 1):
        refuse_another_delimiter(file, names, target, character)
    target_index = column(names, target, file, "data.target")
    split_index = column(names, split_column, file, "data.split_column") if split_column else None
    skipped = {target_index, split_index}
    wanted = list(features) if features else [n for i, n in enumerate(names) if i not in skipped]
    indices = [column(names, name, file, "data.features") for name in wanted]
    if not indices:
        raise ValueError(f"{file} has no feature column besides the target {target!r}")
    first = 2 if header else 1
    x = np.stack([numbers([r[i] for r in rows], file, names[i], first) for i in indices], 1)
    targets = np.asarray([r[target_index].strip() for r in rows])
    _no_empty_targets(targets, file, target, first)
    splits = None if split_index is None else _split_ids([r[split_index] for r in rows], file)
    return Table(str(file), x, wanted, targets, target, splits)


def _no_empty_targets(targets: np.ndarray, file: Path, name: str, first_line: int) -> None:
    empty = np.flatnonzero(targets == "")
    if len(empty):
        raise ValueError(f"{file} line {first_line + empty[0]}, column {name!r}: empty target")


def _split_ids(cells: Sequence[str], file: Path) -> np.ndarray:
    ids = []
    for cell in cells:
        value = cell.strip().lower()
        if value not in SPLIT_NAMES:
            raise ValueError(f"{file}: split value {cell!r} is not one of {', '.join(SPLIT_NAMES)}")
        ids.append(SPLIT_NAMES[value])
    return np.asarray(ids)


def read_npz_table(file: Path, target: str, features: str) -> Table:
    """An ``.npz`` archive (arrays ``features`` and ``target``, by default ``x`` and ``y``),
    or an ``.npy`` of features with ``target`` the path of an ``.npy`` of targets."""
    check_memory(file, NPZ_MEMORY_FACTOR)
    try:
        if file.suffix.lower() == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                x, y = _array(archive, features or "x", file), _array(archive, target or "y", file)
        else:
            y_file = existing_file(target, (".npy",), "npz")
            x, y = np.load(file, allow_pickle=False), np.load(y_file, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"data.path={file} cannot be read as NumPy data: {error}") from None
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    if y.ndim > 1:
        y = y.reshape(len(y)) if y.size == len(y) else y
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"{file}: features {x.shape} and targets {y.shape} should be (N, F) and (N,)"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x.astype(np.float64)).all():
        raise ValueError(f"{file}: the features should be finite numbers")
    names = [str(i) for i in range(x.shape[1])]
    return Table(str(file), x.astype(np.float64), names, y, target or "y")


def _array(archive: np.lib.npyio.NpzFile, key: str, file: Path) -> np.ndarray:
    if key not in archive.files:
        hint = did_you_mean(key, archive.files)
        raise ValueError(f"{file} has no array {key!r}{hint} (arrays: {', '.join(archive.files)})")
    return archive[key]


def read_inputs(file: Path, names: Sequence[str], width: int) -> np.ndarray:
    """Rows to predict, ``(N, width)`` float64: a CSV (by column name where the model knows its
    features' names and the file has a header, else every column; a target column may stay),
    an ``.npy`` of shape ``(N, width)``, or an ``.npz`` holding ``x`` (or one array)."""
    if not file.is_file():
        raise ValueError(f"input={file} does not exist (or is not a file)")
    suffix = file.suffix.lower()
    if suffix in (".npy", ".npz"):
        x = _numpy_inputs(file, suffix)
    else:
        x = _csv_inputs(file, list(names), width, "\t" if suffix == ".tsv" else ",")
    x = x.reshape(-1, 1) if x.ndim == 1 and width == 1 else x
    if x.ndim != 2 or x.shape[1] != width or not len(x):
        raise ValueError(f"input={file} holds {x.shape}; this model takes rows of {width} values")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"input={file}, row {np.flatnonzero(bad)[0] + 1}: not finite numbers")
    return x


def _numpy_inputs(file: Path, suffix: str) -> np.ndarray:
    check_memory(file, NPZ_MEMORY_FACTOR)
    try:
        if suffix == ".npy":
            x = np.load(file, allow_pickle=False)
        else:
            with np.load(file, allow_pickle=False) as archive:
                keys = archive.files
                key = "x" if "x" in keys or len(keys) != 1 else keys[0]
                x = _array(archive, key, file)
    except (OSError, ValueError) as error:
        raise ValueError(f"input={file} cannot be read as NumPy data: {error}") from None
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"input={file} holds {x.dtype} values, not numbers")
    return x.astype(np.float64)


def _csv_inputs(file: Path, names: list[str], width: int, delimiter: str) -> np.ndarray:
    """The chosen columns of a CSV file: read by NumPy's C parser, and where that fails, row by
    row for a message naming the bad cell."""
    check_memory(file, CSV_MEMORY_FACTOR)
    with file.open(newline="", encoding="utf-8-sig") as handle:
        first = next(csv.reader(handle, delimiter=delimiter), None)
    if not first:
        raise ValueError(f"input={file} is empty")
    header = not all(_is_number(cell) for cell in first)
    columns = [cell.strip() for cell in first] if header else [str(i) for i in range(len(first))]
    if header and names and set(names) <= set(columns):
        wanted = [columns.index(name) for name in names]
    elif len(columns) == width:
        wanted = list(range(width))
    else:
        expected = f" ({', '.join(names)})" if names else ""
        raise ValueError(
            f"input={file} has {len(columns)} columns; this model takes {width}{expected}"
            + (" — name them in a header line" if names else "")
        )
    try:
        with warnings.catch_warnings():  # an empty file is refused below, in nnkit's words
            warnings.simplefilter("ignore", UserWarning)
            x = np.loadtxt(file, delimiter=delimiter, skiprows=int(header), usecols=wanted,
                           ndmin=2, encoding="utf-8-sig")  # fmt: skip
    except ValueError:
        _, rows = read_csv_rows(file, delimiter, header)
        lines = 2 if header else 1
        x = np.stack([numbers([r[i] for r in rows], file, columns[i], lines) for i in wanted], 1)
    if not len(x):
        raise ValueError(f"input={file} has no rows to predict")
    return x


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True

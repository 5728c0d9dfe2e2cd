"""A learner's own points: clicked onto the plane or uploaded as a CSV file, written as a CSV
under the folder the playground was started in (``playground-data/``) and read back by nnkit's
own CSV reader, so the page trains ``data=csv data.path=...`` exactly as ``nnkit.train`` would,
its one-line errors included; an export carries the file beside its config.

Drawn points are rows ``[x1, x2, label]`` (a class 0, 1, ... or, for a regression, any value);
an upload is a file's text, at most ``MAX_UPLOAD_BYTES``. Files are named by their content
(the same points, the same file) and the folder keeps at most ``MAX_FILES`` of them.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> rows = [[i / 10 - 1, (i % 7) / 7, i % 2] for i in range(20)]
>>> save_points(rows, folder)  # doctest: +ELLIPSIS
'playground-data/points-....csv'
>>> save_points([[0.1, 0.2, float("nan")]] * 20, folder)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nnkit.errors.ConfigError: a drawn point is [x1, x2, label], three finite numbers, not [0.1, ...
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from nnkit.errors import ConfigError

FOLDER = "playground-data"
MIN_POINTS, MAX_POINTS = 10, 5000  # a 70/15/15 split needs some; the page draws at most these
MAX_UPLOAD_BYTES = 2**20
MAX_FILES = 500


def save_points(rows: Any, folder: Path) -> str:
    """The drawn ``rows`` as a CSV under ``folder`` (checked by nnkit's reader); its path, as
    ``data.path`` names it (relative to ``folder``)."""
    if not isinstance(rows, list) or not MIN_POINTS <= len(rows) <= MAX_POINTS:
        count = len(rows) if isinstance(rows, list) else rows
        raise ConfigError(
            f"draw {MIN_POINTS} to {MAX_POINTS} points to train on them, not {count!r}"
        )
    for row in rows:
        if not _point(row):
            raise ConfigError(f"a drawn point is [x1, x2, label], three finite numbers, not {row}")
    text = "x1,x2,label\n" + "".join(f"{x1!r},{x2!r},{_label(label)}\n" for x1, x2, label in rows)
    return _save("points", text, folder)


def save_upload(name: Any, text: Any, folder: Path) -> str:
    """An uploaded file's ``text`` as a CSV under ``folder`` (checked by nnkit's reader)."""
    if not isinstance(text, str) or not isinstance(name, str):
        raise ConfigError("an upload is a file's name and its text")
    size = len(text.encode())
    if size > MAX_UPLOAD_BYTES:
        raise ConfigError(
            f"{name} is {size / 2**20:.1f} MiB: the playground takes files of at most "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB (python -m nnkit.train data=csv takes any size)"
        )
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(name).stem)[:40]
    return _save(stem or "upload", text, folder)


def _point(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)
        and all(math.isfinite(v) for v in row)
    )


def _label(value: float) -> str:
    """A class as a whole number (``1``, not ``1.0``), a regression's value as it is."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _save(stem: str, text: str, folder: Path) -> str:
    """``text`` as ``playground-data/STEM-HASH.csv``, kept only if nnkit's reader takes it."""
    from nnkit.data.files import csv_file

    data = folder / FOLDER
    data.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = data / f"{stem}-{digest}.csv"
    fresh = not path.exists()
    path.write_text(text)
    try:
        csv_file(str(path))
    except (ValueError, KeyError) as error:
        if fresh:
            path.unlink()
        raise ConfigError(f"{stem}.csv: {error}") from None
    _prune(data)
    return f"{FOLDER}/{path.name}"


def _prune(data: Path) -> None:
    """The oldest files removed past ``MAX_FILES``."""
    files = sorted(data.glob("*.csv"), key=lambda p: p.stat().st_mtime)
    for old in files[: max(0, len(files) - MAX_FILES)]:
        old.unlink(missing_ok=True)

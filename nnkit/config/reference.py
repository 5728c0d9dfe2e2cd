"""The configuration reference, read from the code so it cannot drift: every key of the typed
schema with its type, default, valid values and the comment that documents it in
``schema.py``, and every option of the registry-backed groups with the keys of its YAML file.

The documentation site's reference page is made from ``schema_rows`` and ``option_rows``
(``docs/gen_reference.py``); a test checks it lists every key of the schema.

>>> rows = {row.key: row for row in schema_rows()}
>>> rows["trainer.max_epochs"].default, rows["trainer.max_epochs"].valid
('100', 'a number > 0')
>>> rows["trainer.accelerator"].doc
'auto (CUDA when present), cpu or gpu'
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import re
import tokenize
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from nnkit.config.schema import CHOICES, RANGES, NNKitConfig


@dataclass(frozen=True)
class KeyRow:
    """One documented key: ``key`` as written on the command line."""

    key: str
    type: str
    default: str
    valid: str
    doc: str


def schema_rows() -> list[KeyRow]:
    """Every key of the typed schema (``NNKitConfig`` and its sections), in source order."""
    return list(_rows(NNKitConfig, ""))


def _rows(schema: type, prefix: str) -> Any:
    comments = field_comments(schema)
    for item in dataclasses.fields(schema):
        key = f"{prefix}{item.name}"
        default = _default(item)
        if dataclasses.is_dataclass(default):
            yield from _rows(type(default), f"{key}.")
            continue
        valid = RANGES[key].text() if key in RANGES else ", ".join(CHOICES.get(key, ()))
        kind = item.type if isinstance(item.type, str) else getattr(item.type, "__name__", "")
        yield KeyRow(key, kind, repr(default) if isinstance(default, str) else str(default),
                     valid, comments.get(item.name, ""))  # fmt: skip


def _default(item: dataclasses.Field) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None if item.default is dataclasses.MISSING else item.default


def field_comments(schema: type) -> dict[str, str]:
    """The comment after each field of a dataclass's source (continued on the next lines by
    comments of their own), by field name."""
    comments: dict[str, str] = {}
    current = None
    source = inspect.getsource(schema)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.start[1] == 4 and current != token.string:
            current = token.string if token.line.strip().split(":")[0] == token.string else None
        elif token.type == tokenize.COMMENT and current is not None:
            text = token.string.lstrip("# ").strip()
            comments[current] = f"{comments[current]} {text}" if current in comments else text
    return comments


def option_rows(group: str) -> dict[str, list[KeyRow]]:
    """Each option of a registry-backed group (``model``, ``data``, ...) with its YAML keys,
    their defaults and comments."""
    found: dict[str, list[KeyRow]] = {}
    folder = files("nnkit.conf").joinpath(group)
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".yaml"):
            found[path.name.removesuffix(".yaml")] = list(_yaml_rows(group, path.read_text()))
    return found


def _yaml_rows(group: str, text: str) -> Any:
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z_][\w]*):\s*([^#]*?)\s*(?:#\s*(.*))?$", line)
        if match and not line.startswith(("defaults", "_")):
            key, default, doc = match.groups()
            if key == "name":
                continue  # the entry's name itself: the option
            valid = RANGES[f"{group}.{key}"].text() if f"{group}.{key}" in RANGES else ""
            yield KeyRow(f"{group}.{key}", "", default, valid, doc or "")

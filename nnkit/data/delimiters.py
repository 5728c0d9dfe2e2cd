"""The delimiter of a CSV file: ``data.delimiter`` as a character or its name (what the command
line can write plainly: Hydra's grammar takes no ``;``), and the refusal of a header that only
another delimiter splits into columns.

>>> delimiter_character("semicolon"), delimiter_character("tab"), delimiter_character("|")
(';', '\\t', '|')
"""

from __future__ import annotations

from pathlib import Path

from nnkit.registry import did_you_mean

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "space": " "}


def delimiter_character(delimiter: str) -> str:
    """``data.delimiter`` as its character: a name (``semicolon``, ``tab``, ...) or the
    character itself; anything else is a ``ValueError`` with the choices."""
    if delimiter in DELIMITERS:
        return DELIMITERS[delimiter]
    if len(delimiter) != 1:
        hint = did_you_mean(delimiter, list(DELIMITERS))
        raise ValueError(
            f"data.delimiter={delimiter!r} should be one character, like , or ;, or a "
            f"name{hint} (choose from: {', '.join(DELIMITERS)})"
        )
    return delimiter


def refuse_another_delimiter(file: Path, names: list[str], target: str, used: str) -> None:
    """A header read as one column, or without ``target``, that another delimiter splits into
    columns (holding ``target`` where one was named): say which delimiter to set."""
    line = used.join(names)
    for name, character in DELIMITERS.items():
        parts = [part.strip() for part in line.split(character)]
        if (
            name == "space"
            or character == used
            or len(parts) < 2
            or (len(names) > 1 and target not in parts)
        ):
            continue
        raise ValueError(
            f"the header of {file} is {line!r}: split by {character!r} it holds the columns "
            f"{', '.join(parts)}, not split by {used!r} — set data.delimiter={name}"
        )

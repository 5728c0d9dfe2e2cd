"""The ``key=value`` arguments of the commands that read a trained model (``nnkit.predict``,
``nnkit.explain``, ``nnkit.draw``): one parser, one way to read lists of numbers and names.

>>> key_values(["ckpt=a.ckpt", "input=[1, 0.5]"], ("ckpt", "input"), "usage: ...")
{'ckpt': 'a.ckpt', 'input': '[1, 0.5]'}
>>> numbers("input", "[1, 0.5]"), numbers("lr", "0.1"), names("[a, b.py]")
([1.0, 0.5], [0.1], ['a', 'b.py'])
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence

from nnkit.errors import ConfigError


def key_values(argv: Sequence[str], keys: Sequence[str], usage: str) -> dict[str, str]:
    """Each ``key=value`` argument as text; anything else, or a key not in ``keys``, is a
    one-line ``ConfigError`` that shows ``usage``."""
    args: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in keys:
            raise ConfigError(f"unexpected argument '{arg}' ({usage})")
        args[key] = value
    return args


def numbers(key: str, value: str) -> list[float]:
    """``value`` as finite numbers: a number, or a flat list like ``[1,0.5]``."""
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise ConfigError(f"{key}={value} is not a number or a list like [1,0.5]") from None
    values = list(parsed) if isinstance(parsed, list | tuple) else [parsed]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"{key}={value} must be a number or a list of numbers like [1,0.5]")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"{key} holds {bad[0]}: every value must be a finite number")
    return [float(v) for v in values]


def names(value: str) -> list[str]:
    """A list of names or paths, ``[a,b]`` (or one name without brackets)."""
    return [part.strip() for part in value.strip().strip("[]").split(",") if part.strip()]

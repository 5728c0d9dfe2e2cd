"""The page's settings as ``nnkit.train`` overrides: the same keys, checked by the same schema.

A message from the page names settings by their config keys (``optimizer.lr``,
``model.hidden``, ...). Only the keys a playground turns are taken; each value becomes one
override, and the composed config is checked by nnkit's schema when the session is built.
The playground's own limits keep a page responsive (a few hundred units, not 10⁹).

>>> to_overrides({"data": "spiral", "model.hidden": [4, 2], "optimizer.lr": 0.03})
['data=spiral', 'model.hidden=[4,2]', 'optimizer.lr=0.03']
>>> to_overrides({"model.hidden": [10**9]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nnkit.errors.ConfigError: model.hidden=[1000000000]: the playground draws at most 8 layers of ...
>>> to_overrides({"model.hidden": [[[]]]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nnkit.errors.ConfigError: model.hidden=[[[]]]: the hidden layers' widths are positive whole ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnkit.config.overrides import format_value
from nnkit.errors import ConfigError
from nnkit.registry import did_you_mean

KEYS = (
    "data", "data.n", "data.dim", "data.noise", "data.batch_size", "data.seed", "data.classes",
    "data.train_fraction", "data.path", "data.standardize", "model.hidden", "model.activation",
    "model.features", "model.norm", "model.dropout", "model.residual",
    "model.init", "loss", "optimizer", "optimizer.lr", "scheduler", "scheduler.interval",
    "regularization.kind", "regularization.rate", "seed", "trainer.replicas",
)  # fmt: skip
MAX_LAYERS, MAX_UNITS, MAX_POINTS, MAX_REPLICAS = 8, 64, 15_000, 64


def to_overrides(settings: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides for ``settings``, or a one-line ``ConfigError``."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"settings should be an object of keys and values, not {settings!r}")
    overrides = []
    for key, value in settings.items():
        if key not in KEYS:
            hint = did_you_mean(str(key), KEYS)
            raise ConfigError(f"unknown setting '{key}'{hint} (choose from: {', '.join(KEYS)})")
        _check_limits(key, value)
        overrides.append(f"{key}={_inside(value) if key == 'data.path' else _format(value)}")
    return overrides


def _check_limits(key: str, value: Any) -> None:
    if key == "model.hidden":
        widths = value if isinstance(value, list) else [value]
        if any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise ConfigError(
                f"model.hidden={value}: the hidden layers' widths are positive whole numbers, "
                f"e.g. [4, 2]"
            )
        if len(widths) > MAX_LAYERS or max(widths, default=0) > MAX_UNITS:
            raise ConfigError(
                f"model.hidden={value}: the playground draws at most {MAX_LAYERS} layers of "
                f"at most {MAX_UNITS} units"
            )
    if key == "data.n" and isinstance(value, int) and value > MAX_POINTS:
        raise ConfigError(f"data.n={value}: the playground takes at most {MAX_POINTS} points")
    if key == "trainer.replicas" and isinstance(value, int) and value > MAX_REPLICAS:
        raise ConfigError(
            f"trainer.replicas={value}: the playground trains at most {MAX_REPLICAS} at once"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}={value} should be a finite number")


def _inside(path: Any) -> str:
    """A file the page names, as an override: only inside the folder the playground was
    started in (the page never opens a path beyond it)."""
    folder = Path.cwd().resolve()
    if not isinstance(path, str) or not (folder / path).resolve().is_relative_to(folder):
        raise ConfigError(
            f"data.path={path!r}: the playground opens files inside the folder it was started "
            f"in ({folder}) only"
        )
    return format_value(str((folder / path).resolve().relative_to(folder)))


def _format(value: Any) -> str:
    """A page's value as an override (``format_value``), once it is one a page may send: a
    name, a number, a boolean or a list of them."""
    if isinstance(value, list):
        return "[" + ",".join(_format(v) for v in value) + "]"
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and value and all(c.isalnum() or c in "_-." for c in value)
    ):
        return format_value(value)
    raise ConfigError(f"{value!r} is not a setting's value (a name, a number or a list)")


def merged(base: Sequence[str], settings: Mapping[str, Any]) -> list[str]:
    """The command line's overrides, then the page's ``settings``; where the page picks another
    dataset, the command line's options of its own (``data.n=300``) are left out.

    >>> merged(["data=circular", "data.n=300", "seed=1"], {"data": "seven_segment"})
    ['seed=1', 'data=seven_segment']
    >>> merged(["data=circular", "data.n=300"], {"data": "circular"})
    ['data=circular', 'data.n=300', 'data=circular']
    """
    page = to_overrides(settings)
    named = [o.partition("=")[2] for o in base if o.lstrip("+~").startswith("data=")]
    if "data" in settings and settings["data"] != (named[-1] if named else None):
        base = [o for o in base if not o.lstrip("+~").startswith(("data=", "data."))]
    return [*base, *page]


def settings_of(overrides: list[str]) -> dict[str, Any]:
    """``key=value`` overrides as a page's settings (numbers, lists and names): the inverse of
    ``to_overrides``.

    >>> settings_of(["data=circular", "model.hidden=[4,2]", "optimizer.lr=0.03"])
    {'data': 'circular', 'model.hidden': [4, 2], 'optimizer.lr': 0.03}
    """
    settings = {}
    for override in overrides:
        key, _, value = override.partition("=")
        try:
            settings[key] = json.loads(value)
        except ValueError:
            settings[key] = value
    return settings

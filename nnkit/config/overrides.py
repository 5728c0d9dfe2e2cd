"""The overrides that compose to a given config: how a checkpoint's run (its config, as plain
data) becomes a command line again — each group's option by its ``name``, then every value
that differs from that option's defaults.

>>> overrides_for({"data": {"name": "xor", "n": 300}, "seed": 3}, groups=("data",))
['data=xor', 'data.n=300', 'seed=3']
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from omegaconf import OmegaConf, open_dict

GROUPS = (
    "model",
    "data",
    "loss",
    "optimizer",
    "scheduler",
)  # the groups whose option a config names
SKIPPED = ("trainer", "logger", "hydra", "ckpt_path")  # where and how long, not what
_PLAIN = re.compile(r"^[A-Za-z0-9_.\-/]+$")


def overrides_for(config: Mapping[str, Any], groups: Sequence[str] = GROUPS) -> list[str]:
    """``key=value`` overrides that, composed, give ``config`` (but its ``SKIPPED`` parts)."""
    from nnkit.config.compose import compose

    chosen = [f"{g}={config[g]['name']}" for g in groups if isinstance(config.get(g), Mapping)]
    composed = compose(chosen)
    with open_dict(composed):
        del composed["hydra"]
    defaults: dict[str, Any] = OmegaConf.to_container(composed, resolve=True)  # type: ignore[assignment]
    overrides = list(chosen)
    for key, value in _leaves(config):
        if key.split(".")[0] in SKIPPED or (key.endswith(".name") and key.count(".") == 1):
            continue
        default = _get(defaults, key)
        if default is _MISSING:
            overrides.append(f"+{key}={format_value(value)}")
        elif default != value:
            overrides.append(f"{key}={format_value(value)}")
    return overrides


def format_value(value: Any) -> str:
    """A value in Hydra's override grammar.

    >>> format_value([4, 2]), format_value(None), format_value("a b"), format_value({"k": 1.5})
    ('[4,2]', 'null', "'a b'", '{k:1.5}')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_MISSING = object()


def _leaves(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node

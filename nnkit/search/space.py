"""The search space, written as Hydra overrides (``hydra.sweeper.params`` and the command
line) or in the older ``search_space`` form, as Optuna distributions.

The grammar is ``hydra-optuna-sweeper``'s: ``choice(a, b)`` is categorical, ``range(1, 5)``
integers (Hydra's range: the stop is left out; ``range(0.1, 0.5, 0.1)`` a float grid),
``interval(0.001, 0.1)`` a float interval (integers when both ends are), ``tag(log, ...)``
its log scale; anything else is a fixed value for every trial.

>>> space, fixed = parse_space(["optimizer.lr=tag(log, interval(1e-3, 0.1))", "seed=3",
...                             "model.hidden=choice(4, 8)", "trainer.max_epochs=range(2, 8, 2)"])
>>> space["optimizer.lr"]
FloatDistribution(high=0.1, log=True, low=0.001, step=None)
>>> space["trainer.max_epochs"], fixed
(IntDistribution(high=6, log=False, low=2, step=2), {'seed': '3'})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from nnkit.errors import ConfigError


def sweeper_space(
    sweeper: Mapping[str, Any], arguments: Sequence[str]
) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """The search space of a sweep: the sweeper's ``search_space`` (the older form), its
    ``params`` and the line's ``arguments``, later ones winning; and the fixed values."""
    params = sweeper.get("params") or {}
    space = from_search_space(sweeper.get("search_space") or {})
    drawn, fixed = parse_space([*(f"{k}={v}" for k, v in params.items()), *arguments])
    space.update(drawn)
    for key in fixed:
        space.pop(key, None)
    return space, fixed


def parse_space(arguments: Sequence[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """The distributions of the sweep overrides in ``arguments``, and the fixed values of the
    others (as the override line writes them)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = override.get_value_element_as_str()
    return space, fixed


def distribution(override: Any) -> BaseDistribution:
    """One sweep override as an Optuna distribution."""
    from hydra.core.override_parser.types import Transformer

    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{override.input_line} sweeps over no value")
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        return FloatDistribution(values[0], values[-1], step=value.step)
    if override.is_interval_sweep():
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(value.start, value.end, log=log)
    raise ConfigError(f"{override.input_line}: the Optuna sweeper cannot sample this sweep")


def from_search_space(search_space: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """The older ``hydra.sweeper.search_space`` form: ``{key: {type: float, low, high, log,
    step}}``, ``type: int`` likewise, ``type: categorical`` with ``choices``."""
    space: dict[str, BaseDistribution] = {}
    for key, entry in search_space.items():
        kind, low, high = entry.get("type"), entry.get("low"), entry.get("high")
        log, step = bool(entry.get("log", False)), entry.get("step")
        if kind == "categorical":
            space[key] = CategoricalDistribution(list(entry["choices"]))
        elif kind == "int":
            space[key] = IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        elif kind == "float":
            space[key] = FloatDistribution(float(low), float(high), log=log, step=step)
        else:
            raise ConfigError(
                f"hydra.sweeper.search_space.{key}.type={kind!r} is not valid "
                f"(choose from: categorical, float, int)"
            )
    return space


def grid(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """Every value of each distribution, for the grid sampler; a continuous one is refused."""
    values: dict[str, list[Any]] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution | FloatDistribution) and dist.step is not None:
            count = round((dist.high - dist.low) / dist.step) + 1
            values[key] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise ConfigError(
                f"{key}: the grid sampler needs choices or ranges, not an interval "
                f"(write choice(...) or range(...), or choose another sampler)"
            )
    return values

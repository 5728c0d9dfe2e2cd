"""The sweeper's settings checked before anything runs, each mistake one line: the command
line refuses them before the sweep starts, and the sweeper itself again when it is set up.

>>> from omegaconf import OmegaConf
>>> sweeper = OmegaConf.create({"direction": ["maximize", "minimise"], "n_trials": 4,
...     "n_jobs": 1, "max_failure_rate": 0.0, "pruner": None, "storage": None})
>>> check_search(sweeper, "BasicLauncher", 2)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nnkit.errors.ConfigError: hydra.sweeper.direction='minimise' is not valid — did you mean ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import did_you_mean

DIRECTIONS = ("maximize", "minimize")
NO_PRUNING = "optuna.pruners.NopPruner"


def directions(direction: Any) -> list[str]:
    """``hydra.sweeper.direction`` as a list of names, each checked.

    >>> directions("maximize"), directions(["minimize", "maximize"])
    (['maximize'], ['minimize', 'maximize'])
    """
    names = [direction] if isinstance(direction, str) or not isinstance(direction, Sequence) else (
        list(direction))  # fmt: skip
    found = [str(getattr(d, "name", d)) for d in names]
    for name in found:
        if name not in DIRECTIONS:
            raise ConfigError(
                f"hydra.sweeper.direction={name!r} is not valid{did_you_mean(name, DIRECTIONS)} "
                f"(choose from: {', '.join(DIRECTIONS)})"
            )
    return found


OPTUNA_AT_LEAST = 4  # the major version nnkit's sweeper is written for


def optuna_problem(version: str) -> str | None:
    """Why the installed Optuna (``version``) cannot run nnkit's searches, in one line, or None.

    >>> optuna_problem("4.1.0") is None
    True
    >>> optuna_problem("2.10.1")  # doctest: +ELLIPSIS
    "Optuna 2.10.1 is installed, and nnkit's searches need optuna>=4 ... pip install 'optuna>=4'"
    """
    major = version.split(".")[0]
    if major.isdigit() and int(major) >= OPTUNA_AT_LEAST:
        return None
    wanted = f"optuna>={OPTUNA_AT_LEAST}"
    return (
        f"Optuna {version} is installed, and nnkit's searches need {wanted} "
        f"(hydra-optuna-sweeper pins optuna<3; nnkit ships its own sweeper, so that package is "
        f"not needed): pip uninstall hydra-optuna-sweeper && pip install '{wanted}'"
    )


def check_search(sweeper: Mapping[str, Any], launcher: str, objectives: int) -> None:
    """Refuse settings the search cannot run: an Optuna it is not written for, its numbers,
    its directions against the run's ``objectives``, a pruner where Optuna cannot prune or the
    jobs cannot reach the study (``launcher`` is the class name of Hydra's launcher)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        problem = optuna_problem(version("optuna"))
    except PackageNotFoundError:
        problem = "Optuna is not installed: pip install 'nnkit[sweep]'"
    if problem is not None:
        raise ConfigError(problem)
    for key, low in (("n_trials", 1), ("n_jobs", 1)):
        value = sweeper.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"hydra.sweeper.{key}={value!r} should be an integer >= {low}")
    rate = sweeper.get("max_failure_rate", 0.0)
    if not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ConfigError(f"hydra.sweeper.max_failure_rate={rate!r} is out of range (0 to 1)")
    count = len(directions(sweeper.get("direction", "minimize")))
    if count != objectives:
        raise ConfigError(
            f"hydra.sweeper.direction has {count} direction(s) and objective names {objectives} "
            f"metric(s): give one direction per objective (objective=[val/acc,val/loss] with "
            f"hydra.sweeper.direction=[maximize,minimize])"
        )
    pruner = sweeper.get("pruner")
    pruning = pruner is not None and pruner.get("_target_") != NO_PRUNING
    if pruning and count > 1:
        raise ConfigError(
            f"hydra.sweeper.pruner: Optuna prunes only single-objective studies, and this one "
            f"has {count} directions (hydra/sweeper/pruner=none)"
        )
    if pruning and sweeper.get("storage") is None and launcher != "BasicLauncher":
        raise ConfigError(
            f"hydra.sweeper.pruner with the launcher {launcher}: jobs in other processes report "
            f"to the study through a database; set hydra.sweeper.storage (e.g. "
            f"sqlite:///nnkit-studies.db)"
        )


def check_space(sweeper: Mapping[str, Any], sweeps: Sequence[str]) -> None:
    """Refuse a search space the sampler cannot draw from: ``hydra.sweeper.params``,
    ``search_space`` and the line's ``sweeps`` (a grid needs choices and ranges)."""
    from nnkit.search.space import grid, sweeper_space

    space, _ = sweeper_space(sweeper, sweeps)
    sampler = sweeper.get("sampler") or {}
    if str(sampler.get("_target_", "")).endswith("GridSampler"):
        grid(space)

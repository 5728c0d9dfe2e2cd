"""From command-line overrides to a composed config: Hydra's compose API, with nnkit's checks
of the override line itself (group options with did-you-mean, nulls, lists, sweeps).

Plugins named on the line (``plugins=[...]``) and how plugins load (``plugin_loading.*``) take
effect before anything is composed, so a plugin's dataset or model is a valid option.

>>> first_job(parse(["seed=0,1,2", "model.hidden=[4]"]), multirun=True)
['seed=0', 'model.hidden=[4]']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.renamed import renamed_hint
from nnkit.config.schema import store_registry_options, store_schemas
from nnkit.errors import ConfigError, one_line
from nnkit.plugins import POLICY, load_modules, set_policy
from nnkit.registry import unknown_name_message

CONFIG_MODULE = "nnkit.conf"
FIXED_GROUPS = ("trainer", "logger")  # groups of settings, not of registry entries
OPTIONAL_GROUPS = ("experiment", "hparams_search", "debug", "launcher", "study")  # presets
GROUPS = (*CONFIG_GROUPS, *FIXED_GROUPS, *OPTIONAL_GROUPS)


def parse(overrides: Sequence[str]) -> list[Any]:
    """Hydra's parsed overrides; a malformed one is a one-line ``ConfigError``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except Exception as error:
        raise ConfigError(one_line(str(error))) from error


def apply_plugin_overrides(parsed: Sequence[Any]) -> None:
    """Set ``plugin_loading.*`` and import ``plugins=[...]`` from the override line."""
    policy = {"discover": POLICY.discover, "strict": POLICY.strict, "timeout_s": POLICY.timeout_s}
    modules: list[str] = []
    for override in parsed:
        key = override.key_or_group
        if override.is_sweep_override() or override.is_delete():
            continue
        if key.startswith("plugin_loading.") and key.split(".", 1)[1] in policy:
            policy[key.split(".", 1)[1]] = override.value()
        elif key == "plugins":
            value = override.value()
            modules = value if isinstance(value, list) else [value]
    if isinstance(policy["discover"], bool) and isinstance(policy["strict"], bool):
        timeout = policy["timeout_s"]
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout >= 0:
            set_policy(policy["discover"], policy["strict"], float(timeout))
    load_modules([str(m) for m in modules if m is not None])


def register_options() -> None:
    """nnkit's schemas and every registry entry's config option, in Hydra's ConfigStore."""
    from nnkit.search.config import store_configs

    store_schemas()
    store_registry_options(CONFIG_MODULE)
    store_configs()  # hydra/sweeper=optuna and its samplers and pruners


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The composed config for ``overrides``, with Hydra's own section under ``hydra``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    parsed = parse(overrides)
    apply_plugin_overrides(parsed)
    check_group_overrides(parsed)
    register_options()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            return hydra_compose("train", overrides=list(overrides), return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError, TypeError) as error:
        cause = error.__cause__
        detail = f" {one_line(str(cause))}" if cause and str(cause) not in str(error) else ""
        message = one_line(str(error)) + detail
        raise ConfigError(message + renamed_hint(message)) from error


def group_options(group: str, search_path: Sequence[Path] = ()) -> list[str]:
    """The options of a config group: its YAML files (nnkit's, and those under the folders of
    ``search_path``), and for registry-backed groups every registered name (a plugin's entry
    gets its options from its signature)."""
    from importlib.resources import files

    folders = [files(CONFIG_MODULE).joinpath(group), *(Path(f) / group for f in search_path)]
    options = {
        p.name.removesuffix(".yaml")
        for folder in folders
        if folder.is_dir()
        for p in folder.iterdir()
        if p.name.endswith(".yaml")
    }
    if group in CONFIG_GROUPS:
        options |= set(CONFIG_GROUPS[group].registry.names())
    return sorted(options)


def search_path(parsed: Sequence[Any]) -> list[Path]:
    """The config folders ``hydra.searchpath=[file://...]`` adds on the line (a project's own
    presets beside nnkit's).

    >>> search_path(parse(["hydra.searchpath=[file:///srv/conf,pkg://other.conf]"]))
    [PosixPath('/srv/conf')]
    """
    for override in parsed:
        if override.key_or_group == "hydra.searchpath" and not override.is_delete():
            entries = override.value()
            entries = entries if isinstance(entries, list) else [entries]
            return [Path(str(e).removeprefix("file://")) for e in entries
                    if str(e).startswith("file://")]  # fmt: skip
    return []


def check_group_option(group: str, value: Any, folders: Sequence[Path] = ()) -> None:
    """Raise a did-you-mean ``ConfigError`` unless ``value`` is one option of ``group``."""
    options = group_options(group, folders)
    if value is None and group in OPTIONAL_GROUPS:
        raise ConfigError(
            f"{group}=null: to run without one, leave {group} out or write ~{group} "
            f"(choose from: {', '.join(options)})"
        )
    if value is None or isinstance(value, list | dict):
        shown = "null" if value is None else value
        raise ConfigError(
            f"{group}={shown}: a run needs exactly one {group} (choose from: {', '.join(options)})"
        )
    if not isinstance(value, str) or value not in options:
        raise ConfigError(unknown_name_message(f"{group} option", str(value), options))


def check_group_overrides(parsed: Sequence[Any]) -> None:
    """Every ``group=option`` on the line names options that exist; required groups are not
    deleted or emptied."""
    folders = search_path(parsed)
    for override in parsed:
        group = override.key_or_group
        if group not in GROUPS or override.package is not None:
            continue
        if override.is_delete() and group not in OPTIONAL_GROUPS:
            raise ConfigError(f"~{group}: a run needs a {group}; it cannot be removed")
        if override.is_delete():
            continue
        if override.is_sweep_override():
            for value in _sweep_values(override, folders):
                check_group_option(group, value, folders)
        else:
            check_group_option(group, override.value(), folders)


def _sweep_values(override: Any, folders: Sequence[Path] = ()) -> list[Any]:
    """The values of an enumerable sweep (a glob over a group's options included)."""
    from hydra.core.override_parser.types import Glob, Transformer

    value = override.value()
    if isinstance(value, Glob):
        if override.key_or_group not in GROUPS:
            raise ConfigError(
                f"{override.input_line}: glob() chooses options of a config group "
                f"({', '.join(GROUPS)}), and {override.key_or_group} is not one"
            )
        return value.filter(group_options(override.key_or_group, folders))
    if not override.is_discrete_sweep():
        return []
    return list(override.sweep_iterator(transformer=Transformer.str))


def first_job(parsed: Sequence[Any], multirun: bool) -> list[str]:
    """The override line of the first job of a sweep (the line itself without one).

    A choice, range or glob sweep contributes its first value; an interval sweep, which only a
    sampling sweeper can draw from, its lower end."""
    line = []
    for override in parsed:
        if not override.is_sweep_override():
            line.append(override.input_line)
            continue
        if not multirun:
            raise ConfigError(
                f"{override.input_line} is a sweep: add -m (--multirun) to run a job per value"
            )
        if override.is_interval_sweep():
            value = str(override.value().start)
        else:
            values = _sweep_values(override)
            if not values:
                raise ConfigError(f"{override.input_line} sweeps over no value")
            value = values[0]
        line.append(f"{override.get_key_element()}={value}")
    return line


def check_sweeper(parsed: Sequence[Any], sweeper_target: str) -> None:
    """Interval sweeps need a sampling sweeper (Optuna, Nevergrad, ...): Hydra's basic sweeper
    (``sweeper_target``, as composed: chosen on the line or by a preset) only enumerates
    choices and ranges."""
    basic = sweeper_target.endswith("BasicSweeper")
    for override in parsed:
        if override.is_interval_sweep() and basic:
            raise ConfigError(
                f"{override.input_line}: Hydra's basic sweeper enumerates only choices and "
                f"ranges; choose a sampling sweeper for intervals (e.g. hydra/sweeper=optuna)"
            )

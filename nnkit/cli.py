"""The command line of the main job: ``python -m nnkit.train`` and ``nnkit-train``.

Before Hydra starts anything, the first job's config is composed, validated and built, and the
checkpoint to resume from is checked: a user's mistake ends here with one line and exit code 2,
and no run folder is created or touched. The run (or sweep) folder is then pinned, so that
Hydra, Lightning's DDP workers and the sweep summary all use the same one.

Exit codes: 0 done, 1 training diverged, 2 bad input, 130 interrupted (a checkpoint was saved).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from nnkit.config import ConfigError, store_registry_options, store_schemas
from nnkit.registry import unknown_name_message
from nnkit.train import (
    CONFIG_MODULE,
    GROUPS,
    USER_ERRORS,
    compose,
    load_override_plugins,
    one_line,
    registry_for_group,
    train,
    validate,
)

HELP_FLAGS = (
    "--help",
    "-h",
    "--hydra-help",
    "--info",
    "-i",
    "--cfg",
    "-c",
    "--shell-completion",
    "-sc",
    "--resolve",
)


class RunInterrupted(Exception):
    """The run was stopped with Ctrl-C after saving a checkpoint."""


def fail(message: str, code: int, program: str = "nnkit.train") -> None:
    """Print one line to stderr and exit with ``code`` (with ``HYDRA_FULL_ERROR=1``, the
    traceback of the error being handled first)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        traceback.print_exc()
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(code)


def _task(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from nnkit.module import DivergenceError

    try:
        train(cfg, HydraConfig.get().runtime.output_dir)
    except USER_ERRORS as error:
        fail(str(error), 2)
    except DivergenceError as error:
        fail(str(error), 1)
    except RunInterrupted as error:
        print(f"nnkit.train: {error}", file=sys.stderr)
        sys.exit(130)


def _asks_for_help(argv: Sequence[str]) -> bool:
    return any(arg in HELP_FLAGS or arg.startswith("--info") for arg in argv)


def _is_multirun(argv: Sequence[str]) -> bool:
    return "-m" in argv or "--multirun" in argv


def preflight(argv: Sequence[str]) -> DictConfig:
    """Compose, validate and build the first job's config; check its checkpoint.

    Returns the composed config, with Hydra's section, for pinning the run folder.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in argv if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as error:
        raise ConfigError(one_line(str(error))) from error
    load_override_plugins(overrides)  # first: a plugin's names are valid options below
    for override in parsed:
        if override.key_or_group in GROUPS and not override.is_sweep_override():
            check_group_option(override.key_or_group, override.value())
    first = [
        f"{o.key_or_group}={next(iter(o.sweep_iterator()))}"
        if o.is_sweep_override()
        else o.input_line
        for o in parsed
    ]
    full = compose(first)
    cfg = full.copy()
    with open_dict(cfg):
        del cfg["hydra"]
    validate(cfg)
    _check_launch(cfg, _is_multirun(argv))
    from nnkit.build import build_all
    from nnkit.checkpoints import check_resumable

    _, net, _ = build_all(cfg)
    check_resumable(cfg.ckpt_path, Path(full.hydra.run.dir), net)
    return full


def _check_launch(cfg: DictConfig, multirun: bool) -> None:
    spawns = str(cfg.trainer.strategy).startswith("ddp") and cfg.trainer.devices not in (1, "1")
    if multirun and spawns:
        raise ConfigError(
            f"multirun (-m) cannot launch trainer.strategy={cfg.trainer.strategy} with "
            f"trainer.devices={cfg.trainer.devices}: each sweep job would spawn processes "
            f"from inside Hydra's launcher; run the DDP jobs one at a time, or sweep with "
            f"trainer.devices=1"
        )


def group_options(group: str) -> list[str]:
    """The options of a config group: its YAML files, and for registry-backed groups every
    registered name (a plugin's entry gets its options from its signature)."""
    from importlib.resources import files

    folder = files(CONFIG_MODULE).joinpath(group)
    options = {p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")}
    registry = registry_for_group(group)
    if registry is not None:
        options |= set(registry.names())
    return sorted(options)


def check_group_option(group: str, value: Any) -> None:
    """Raise a registry-style did-you-mean ``ConfigError`` for an unknown ``group=value``."""
    options = group_options(group)
    if value is None or (isinstance(value, str) and value in options):
        return
    raise ConfigError(unknown_name_message(f"{group} option", str(value), options))


def _pin_folders(argv: list[str], full: DictConfig) -> tuple[list[str], Path]:
    """Add explicit run and sweep folders (resolved once, here) unless the user gave them."""
    given = {a.split("=", 1)[0] for a in argv}
    run_dir, sweep_dir = Path(full.hydra.run.dir), Path(full.hydra.sweep.dir)
    pinned = list(argv)
    if "hydra.run.dir" not in given:
        pinned.append(f"hydra.run.dir={run_dir}")
    if "hydra.sweep.dir" not in given:
        pinned.append(f"hydra.sweep.dir={sweep_dir}")
    return pinned, sweep_dir


def main() -> None:
    """The console entry point (``nnkit-train``, ``python -m nnkit.train``)."""
    import hydra

    argv = sys.argv[1:]
    sweep_dir = None
    if not _asks_for_help(argv):
        try:
            full = preflight(argv)
        except USER_ERRORS as error:
            fail(str(error), 2)
        store_registry_options(CONFIG_MODULE)
        argv, sweep_dir = _pin_folders(argv, full)
        sys.argv[1:] = argv
    store_schemas()
    hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name="train", version_base="1.3")(
        _task
    )()
    if sweep_dir is not None and _is_multirun(argv):
        from nnkit.sweep import summarize

        print(summarize(sweep_dir))

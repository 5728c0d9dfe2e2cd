"""The main job: ``python -m nnkit.train [overrides]`` and ``nnkit.train.run(overrides)``.

``train(cfg, run_dir)`` reads top to bottom: seed → plugins → data → model → logger and
callbacks → trainer → fit → test → metrics. The Hydra entry point and ``run`` are thin wrappers.

>>> import nnkit.train
>>> callable(nnkit.train.run)
True
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from nnkit.config import ConfigError, check_settings, store_registry_options, store_schemas
from nnkit.plugins import PluginError, load_modules
from nnkit.registry import RegistryError, unknown_name_message

CONFIG_MODULE = "nnkit.conf"
GROUPS = ("model", "data", "loss", "optimizer", "trainer", "logger", "experiment")
USER_ERRORS = (ConfigError, RegistryError, PluginError)


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The composed config for ``overrides``, with Hydra's own section under ``hydra``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    store_schemas()
    store_registry_options(CONFIG_MODULE)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            return hydra_compose("train", overrides=list(overrides), return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as error:
        cause = error.__cause__
        detail = f" {one_line(str(cause))}" if cause and str(cause) not in str(error) else ""
        raise ConfigError(one_line(str(error)) + detail) from error


def one_line(message: str) -> str:
    """Hydra's and OmegaConf's multi-line messages folded into one line."""
    noise = ("full_key:", "object_type", "reference_type", "Set the environment variable")
    lines = [line.strip() for line in message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(noise))


def validate(cfg: DictConfig) -> None:
    """Everything that can be checked before data is made: plugins, names, settings."""
    load_modules(cfg.plugins)
    check_settings(cfg)
    from nnkit.build import loss_name
    from nnkit.data.dataset import DATASETS
    from nnkit.losses import LOSSES
    from nnkit.models import MODELS

    DATASETS.get(cfg.data.name)
    MODELS.get(cfg.model.name)
    if cfg.loss.name != "auto":
        LOSSES.get(loss_name(cfg.loss, "binary"))


def registry_for_group(group: str) -> Any:
    """The registry a config group mirrors, or None for groups of fixed settings."""
    from nnkit.data.dataset import DATASETS
    from nnkit.losses import LOSSES
    from nnkit.models import MODELS

    return {"model": MODELS, "data": DATASETS, "loss": LOSSES}.get(group)


def train(cfg: DictConfig, run_dir: str | Path) -> dict[str, float]:
    """Train and test as ``cfg`` says, writing everything into ``run_dir``; final metrics."""
    run_dir = Path(run_dir)
    _quiet_lightning()
    validate(cfg)
    from nnkit.runner import fit_and_test

    return fit_and_test(cfg, run_dir)


def run(overrides: Sequence[str] = ()) -> dict[str, float]:
    """Compose the config from ``overrides`` (as on the command line), train, return metrics."""
    cfg = compose(overrides)
    run_dir = cfg.hydra.run.dir
    with open_dict(cfg):
        del cfg["hydra"]
    return train(cfg, run_dir)


def _fail(message: str, code: int) -> None:
    print(f"nnkit.train: error: {message}", file=sys.stderr)
    sys.exit(code)


def _quiet_lightning() -> None:
    """Lightning's info lines (devices, "fit stopped") off; nnkit prints its own summary."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")


def _task(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from nnkit.module import DivergenceError

    try:
        train(cfg, HydraConfig.get().runtime.output_dir)
    except USER_ERRORS as error:
        _fail(str(error), 2)
    except DivergenceError as error:
        _fail(str(error), 1)


def _asks_for_help(argv: Sequence[str]) -> bool:
    return any(
        arg
        in (
            "--help",
            "-h",
            "--hydra-help",
            "--info",
            "-i",
            "--cfg",
            "-c",
            "--shell-completion",
            "-sc",
        )
        or arg.startswith("--info")
        for arg in argv
    )


def preflight(argv: Sequence[str]) -> None:
    """Compose and validate the config of the first job before Hydra starts any run."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in argv if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as error:
        raise ConfigError(one_line(str(error))) from error
    first = [
        f"{o.key_or_group}={next(iter(o.sweep_iterator()))}"
        if o.is_sweep_override()
        else o.input_line
        for o in parsed
    ]
    for override in parsed:
        if override.key_or_group in GROUPS and not override.is_sweep_override():
            check_group_option(override.key_or_group, override.value())
    cfg = compose(first)
    with open_dict(cfg):
        del cfg["hydra"]
    validate(cfg)
    from nnkit.build import build_all

    build_all(cfg)


def group_options(group: str) -> list[str]:
    """The options of a config group: its YAML files, and for registry-backed groups every
    registered name (a plugin's entry has its options from its signature)."""
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


def main() -> None:
    """The console entry point (``nnkit-train``, ``python -m nnkit.train``)."""
    import hydra

    if not _asks_for_help(sys.argv[1:]):
        try:
            preflight(sys.argv[1:])
        except USER_ERRORS as error:
            _fail(str(error), 2)
        store_registry_options(CONFIG_MODULE)
    store_schemas()
    hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name="train", version_base="1.3")(
        _task
    )()


if __name__ == "__main__":
    main()

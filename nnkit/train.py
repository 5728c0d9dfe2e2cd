"""The main job: ``python -m nnkit.train [overrides]`` and ``nnkit.train.run(overrides)``.

``train(cfg, run_dir)`` reads top to bottom: seed → plugins → data → model → logger and
callbacks → trainer → fit → test → metrics. The Hydra entry point and ``run`` are thin wrappers.

>>> import nnkit.train
>>> callable(nnkit.train.run)
True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from nnkit.config import ConfigError, check_settings, store_registry_options, store_schemas
from nnkit.plugins import PluginError, load_modules
from nnkit.registry import RegistryError

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
    load_override_plugins(overrides)
    store_registry_options(CONFIG_MODULE)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            return hydra_compose("train", overrides=list(overrides), return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as error:
        cause = error.__cause__
        detail = f" {one_line(str(cause))}" if cause and str(cause) not in str(error) else ""
        raise ConfigError(one_line(str(error)) + detail) from error


def load_override_plugins(overrides: Sequence[str]) -> None:
    """Import the modules of a ``plugins=[...]`` override before anything looks names up, so
    that a plugin's dataset or model is a valid option of its group."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(
            [o for o in overrides if o.startswith(("plugins=", "+plugins="))]
        )
    except Exception as error:
        raise ConfigError(one_line(str(error))) from error
    for override in parsed:
        if not override.is_sweep_override():
            load_modules(override.value() or [])


def one_line(message: str) -> str:
    """Hydra's and OmegaConf's multi-line messages folded into one line."""
    noise = ("full_key:", "object_type", "reference_type", "Set the environment variable")
    lines = [line.strip() for line in message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(noise))


def validate(cfg: DictConfig) -> None:
    """Everything that can be checked before data is made: plugins, names, settings."""
    load_modules(cfg.plugins)
    check_settings(cfg)
    from nnkit.data.dataset import DATASETS
    from nnkit.losses import LOSSES
    from nnkit.models import MODELS

    DATASETS.get(cfg.data.name)
    MODELS.get(cfg.model.name)
    if cfg.loss.name != "auto":
        LOSSES.get(cfg.loss.name)


def registry_for_group(group: str) -> Any:
    """The registry a config group mirrors, or None for groups of fixed settings."""
    from nnkit.data.dataset import DATASETS
    from nnkit.losses import LOSSES
    from nnkit.models import MODELS

    return {"model": MODELS, "data": DATASETS, "loss": LOSSES}.get(group)


def train(cfg: DictConfig, run_dir: str | Path) -> dict[str, float]:
    """Train and test as ``cfg`` says, writing everything into ``run_dir``; final metrics."""
    run_dir = Path(run_dir)
    validate(cfg)
    from nnkit.runner import fit_and_test

    quiet_lightning()  # after Lightning's import, which sets its own logger's level
    return fit_and_test(cfg, run_dir)


def quiet_lightning() -> None:
    """Lightning's info lines (devices, "fit stopped") off; nnkit prints its own summary."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*weights_only. was not set.*")


def run(overrides: Sequence[str] = ()) -> dict[str, float]:
    """Compose the config from ``overrides`` (as on the command line), train, return metrics."""
    cfg = compose(overrides)
    run_dir = cfg.hydra.run.dir
    with open_dict(cfg):
        del cfg["hydra"]
    return train(cfg, run_dir)


if __name__ == "__main__":
    from nnkit.cli import main

    main()

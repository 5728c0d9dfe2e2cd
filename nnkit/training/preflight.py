"""The one preflight of a training job: ``python -m nnkit.train`` (``nnkit.commands.train``)
and ``nnkit.train.run`` alike check the override line, compose the first job's config and
``prepare`` its run (validated, data and network built, the checkpoint checked), check the
trainer's settings and that the run folder can take a checkpoint — before anything is written.
A user's mistake ends here with one line.

>>> full, prepared = preflight(["model.hidden=[3]", "trainer.max_epochs=1"])
>>> without_hydra(full).model.hidden, "hydra" in without_hydra(full)
([3], False)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nnkit.config.compose import (
    apply_plugin_overrides,
    check_group_overrides,
    check_sweeper,
    compose,
    first_job,
    parse,
)
from nnkit.errors import ConfigError
from nnkit.runs.storage import check_writable, checkpoint_bytes
from nnkit.search.checks import check_search, check_space
from nnkit.search.config import FORMER_SWEEPER, SWEEPER


def is_multirun(argv: Sequence[str], full: DictConfig | None = None) -> bool:
    """Whether the override line asks for a multirun (``-m``), or the composed config ``full``
    does (``hydra.mode: MULTIRUN``, as lightning-hydra-template's search presets set it)."""
    if "-m" in argv or "--multirun" in argv:
        return True
    mode = OmegaConf.select(full, "hydra.mode") if full is not None else None
    return str(mode).rsplit(".", 1)[-1] == "MULTIRUN"


def without_hydra(full: DictConfig) -> DictConfig:
    """The run's own config: ``full`` less Hydra's section."""
    cfg = full.copy()
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def preflight(argv: Sequence[str]) -> tuple[DictConfig, Any]:
    """Check the override line, compose the first job's config and prepare its run.

    Returns the composed config (with Hydra's section, for pinning the folders) and what
    ``nnkit.config.prepare.prepare`` built for it.
    """
    from nnkit.config.prepare import prepare

    multirun = is_multirun(argv)
    parsed = parse([a for a in argv if not a.startswith("-")])
    apply_plugin_overrides(parsed)  # first: a plugin's names are valid options below
    check_group_overrides(parsed)
    full = compose(first_job(parsed, multirun))
    multirun = is_multirun(argv, full)
    if multirun:
        check_sweeper(parsed, str(full.hydra.sweeper.get("_target_", "")))
    cfg = without_hydra(full)
    _check_launch(cfg, multirun)
    prepared = prepare(cfg, Path(full.hydra.run.dir))
    if multirun and str(full.hydra.sweeper.get("_target_", "")) in (SWEEPER, FORMER_SWEEPER):
        launcher = str(full.hydra.launcher.get("_target_", "")).rsplit(".", 1)[-1]
        check_search(full.hydra.sweeper, launcher, len(prepared.objectives))
        check_space(full.hydra.sweeper, [o.input_line for o in parsed if o.is_sweep_override()])
    from nnkit.training.trainer import check_trainer

    check_trainer(cfg.trainer, Path(full.hydra.run.dir))
    folder = Path(full.hydra.sweep.dir if multirun else full.hydra.run.dir)
    check_writable(
        folder, checkpoint_bytes(prepared.net), "sweep folder" if multirun else "run folder"
    )
    return full, prepared


def _check_launch(cfg: DictConfig, multirun: bool) -> None:
    spawns = str(cfg.trainer.strategy).startswith("ddp") and cfg.trainer.devices not in (1, "1")
    if multirun and spawns:
        raise ConfigError(
            f"multirun (-m) cannot launch trainer.strategy={cfg.trainer.strategy} with "
            f"trainer.devices={cfg.trainer.devices}: each sweep job would spawn processes "
            f"from inside Hydra's launcher; run the DDP jobs one at a time, or sweep with "
            f"trainer.devices=1"
        )

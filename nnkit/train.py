"""The main job: ``python -m nnkit.train [overrides]`` and ``nnkit.train.run(overrides)``.

``train(cfg, run_dir)`` is the whole run, top to bottom: seed → plugins → data → model (all in
``prepare``, or handed over by the command line, which prepared them to check its input) →
logger and callbacks → trainer → fit → test → metrics. ``run`` composes a config and calls it.

>>> from nnkit.train import train, run
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nnkit.build import Prepared, prepare
from nnkit.compose import compose
from nnkit.errors import RunInterrupted
from nnkit.lock import run_lock


def train(cfg: DictConfig, run_dir: str | Path, prepared: Prepared | None = None) -> dict[str, Any]:
    """Train and test as ``cfg`` says, writing everything into ``run_dir``; final metrics
    (with ``trainer.replicas``, their mean, ``_min`` and ``_max``, and under ``"replicas"``
    each replica's own).

    ``prepared`` is ``prepare(cfg, run_dir)``'s result when the caller already has it.
    """
    import torch

    from nnkit.data.module import TensorDataModule
    from nnkit.trainer import (
        build_callbacks,
        build_logger,
        build_module,
        build_trainer,
        final_metrics,
        finish,
        quiet_lightning,
        replica_metrics,
    )

    run_dir = Path(run_dir)
    prepared = prepared or prepare(cfg, run_dir)  # seed, plugins, data, model, loss, checkpoint
    quiet_lightning()  # after Lightning's import, which sets its own logger's level
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    module = build_module(cfg, prepared)
    logger = build_logger(cfg, run_dir)
    callbacks = build_callbacks(cfg, run_dir, prepared)
    trainer = build_trainer(cfg.trainer, run_dir, logger, callbacks)
    # DDP synchronises gradients once per forward of its wrapper: one step per call there.
    steps_per_call = cfg.trainer.steps_per_call if trainer.world_size == 1 else 1
    data = TensorDataModule(
        prepared.data,
        cfg.data.batch_size,
        cfg.data.eval_batch_size,
        cfg.seed,
        steps_per_call,
        replicas=module.replicas,
    )
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    ckpt_path = prepared.ckpt_path and str(prepared.ckpt_path)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    except SystemExit as stop:  # Lightning exits after handling Ctrl-C, and on SIGTERM
        if not trainer.interrupted:
            raise
        raise interrupted(stop, run_dir) from stop
    metrics: dict[str, Any] = final_metrics(trainer.callback_metrics)
    (test,) = trainer.test(module, datamodule=data, verbose=False)
    metrics.update(final_metrics(test))
    if module.replicas > 1:
        metrics["replicas"] = replica_metrics(module.replica_scores)
    if trainer.is_global_zero:
        finish(trainer, metrics, run_dir, prepared.config)
    return metrics


def interrupted(stop: SystemExit, run_dir: Path) -> RunInterrupted:
    """What to tell the user when a run was stopped by a signal after saving ``last.ckpt``."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    last = run_dir / "checkpoints" / "last.ckpt"
    how, code = (
        ("terminated (SIGTERM)", 143)
        if isinstance(stop, SIGTERMException)
        else ("interrupted", 130)
    )
    return RunInterrupted(
        f"{how}; saved {last} — resume with ckpt_path=last hydra.run.dir={run_dir}", code
    )


def run(overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Compose the config from ``overrides`` (as on the command line), train, return metrics.

    Raises nnkit's one-line errors (``nnkit.errors``) for bad input, before any folder exists.
    """
    cfg = compose(overrides)
    run_dir = Path(cfg.hydra.run.dir)
    with open_dict(cfg):
        del cfg["hydra"]
    prepared = prepare(cfg, run_dir)  # every mistake refused before the folder exists
    with run_lock(run_dir):
        return train(cfg, run_dir, prepared)


if __name__ == "__main__":
    from nnkit.cli import main

    main()

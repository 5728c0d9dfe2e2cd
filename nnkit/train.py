"""The main job: ``python -m nnkit.train [overrides]`` and ``nnkit.train.run(overrides)``.

``train(cfg, run_dir)`` is the whole run, top to bottom: seed → plugins → data → model → the
proof of its ops' gradients (all in ``prepare``, or handed over by the command line, which
prepared them to check its input) → logger and callbacks → trainer → fit → test → metrics.
``run`` composes a config and calls it.

>>> from nnkit.train import train, run
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nnkit.build import Prepared, prepare
from nnkit.compose import compose
from nnkit.errors import RunInterrupted
from nnkit.launch import requeued
from nnkit.lock import run_lock
from nnkit.run_proof import unproved_warning
from nnkit.storage import (
    check_writable,
    checkpoint_bytes,
    find_os_error,
    quiet_writer_threads,
    storage_error,
    write_atomic,
)


def train(cfg: DictConfig, run_dir: str | Path, prepared: Prepared | None = None) -> dict[str, Any]:
    """Train and test as ``cfg`` says, writing everything into ``run_dir``; final metrics
    (with ``trainer.replicas``, their mean, ``_min`` and ``_max``, and under ``"replicas"``
    each replica's own).

    ``prepared`` is ``prepare(cfg, run_dir)``'s result when the caller already has it. A run
    resumed from a checkpoint that has nothing left to train re-reports its final metrics. A
    file the machine refuses to write is a one-line ``StorageError``.
    """
    import torch

    from nnkit.trainer import quiet_lightning

    run_dir = Path(run_dir)
    if cfg.ckpt_path is None and requeued() and (run_dir / "checkpoints" / "last.ckpt").exists():
        print(f"nnkit.train: SLURM requeued this job: resuming from {run_dir}/checkpoints")
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.ckpt_path = "last"
        prepared = None  # what was prepared before the requeue knew no checkpoint
    prepared = prepared or prepare(cfg, run_dir)  # seed, plugins, data, model, loss, proof
    warning = unproved_warning(prepared.proof)
    if warning:
        print(f"nnkit.train: {warning}", file=sys.stderr)
    if cfg.ckpt_path == "last" and prepared.resume is None:
        print(f"nnkit.train: no last.ckpt in {run_dir / 'checkpoints'} yet: starting from scratch")
    quiet_lightning()  # after Lightning's import, which sets its own logger's level
    quiet_writer_threads()  # a full disk is reported once, in one line
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    try:
        resume = prepared.resume
        if resume is not None and resume.finished(cfg.trainer.max_epochs, cfg.trainer.max_steps):
            return _report_finished(cfg, run_dir, prepared)
        return _fit_and_test(cfg, run_dir, prepared)
    except Exception as error:
        os_error = find_os_error(error)
        if os_error is None:
            raise
        raise storage_error(os_error, run_dir) from error


def _data_module(cfg: DictConfig, prepared: Prepared, world_size: int, replicas: int):
    from nnkit.data.module import TensorDataModule

    # DDP synchronises gradients once per forward of its wrapper: one step per call there.
    steps_per_call = cfg.trainer.steps_per_call if world_size == 1 else 1
    return TensorDataModule(
        prepared.data,
        cfg.data.batch_size,
        cfg.data.eval_batch_size,
        cfg.seed,
        steps_per_call,
        replicas=replicas,
    )


def _fit_and_test(cfg: DictConfig, run_dir: Path, prepared: Prepared) -> dict[str, Any]:
    from nnkit.module import final_metrics
    from nnkit.trainer import (
        build_callbacks,
        build_logger,
        build_module,
        build_trainer,
        finish,
        replica_metrics,
    )

    module = build_module(cfg, prepared)
    logger = build_logger(cfg, run_dir)
    callbacks = build_callbacks(cfg, run_dir, prepared)
    trainer = build_trainer(cfg.trainer, run_dir, logger, callbacks)
    data = _data_module(cfg, prepared, trainer.world_size, module.replicas)
    module.compile_step = _compiles(cfg, prepared, trainer.strategy.root_device)
    if trainer.is_global_zero:
        write_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True).encode())
    ckpt_path = prepared.resume and str(prepared.resume.path)
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
        finish(trainer, metrics, run_dir, prepared)
    return metrics


def _compiles(cfg: DictConfig, prepared: Prepared, device: Any) -> bool:
    """``trainer.compile`` decided for this run's length and device."""
    from nnkit.compiled import planned_steps, should_compile

    t = cfg.trainer
    samples = len(prepared.data.train[0])
    steps = planned_steps(samples, cfg.data.batch_size, t.max_epochs, t.max_steps)
    return should_compile(t.compile, device, steps)


def _report_finished(cfg: DictConfig, run_dir: Path, prepared: Prepared) -> dict[str, Any]:
    """A resumed run with nothing left to train (a requeued or resubmitted job, a second
    resume): its final metrics from the checkpoint and its test split, reported again, and
    ``metrics.json`` written again (the same); its logs and checkpoints are not touched."""
    from nnkit.module import final_metrics
    from nnkit.trainer import build_module, build_trainer, finish, replica_metrics

    resume = prepared.resume
    assert resume is not None
    print(
        f"nnkit.train: this run has finished already (epoch {resume.epochs_done}/"
        f"{cfg.trainer.max_epochs}, step {resume.steps_done}): nothing left to train; "
        f"its final metrics again"
    )
    module = build_module(cfg, prepared)
    trainer = build_trainer(cfg.trainer, run_dir, False, [])
    data = _data_module(cfg, prepared, trainer.world_size, module.replicas)
    metrics: dict[str, Any] = dict(resume.metrics)
    if not metrics:  # a checkpoint from before nnkit kept its metrics: validate again
        (validated,) = trainer.validate(module, data, ckpt_path=str(resume.path), verbose=False)
        metrics.update(final_metrics(validated))
    (test,) = trainer.test(module, datamodule=data, ckpt_path=str(resume.path), verbose=False)
    metrics.update(final_metrics(test))
    if module.replicas > 1:
        metrics["replicas"] = replica_metrics(module.replica_scores)
    if trainer.is_global_zero:
        finish(trainer, metrics, run_dir, prepared)
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
    check_writable(run_dir, checkpoint_bytes(prepared.net))
    with run_lock(run_dir):
        return train(cfg, run_dir, prepared)


if __name__ == "__main__":
    from nnkit.cli import main

    main()

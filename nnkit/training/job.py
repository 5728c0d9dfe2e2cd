"""The main job: ``run(overrides)`` and ``train(cfg, run_dir)``, public as ``nnkit.train``.

``train(cfg, run_dir)`` is the whole run, top to bottom: seed → plugins → data → model → the
proof of its ops' gradients (all in ``prepare``, or handed over by the command line, which
prepared them to check its input) → logger and callbacks → trainer → fit → test → metrics.
``run`` composes a config and calls it.

>>> from nnkit.training.job import train, run
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nnkit.config.prepare import Prepared, prepare
from nnkit.errors import RunInterrupted
from nnkit.proof.before_run import unproved_warning
from nnkit.runs.launch import requeued
from nnkit.runs.lock import run_lock
from nnkit.runs.storage import (
    find_os_error,
    quiet_writer_threads,
    storage_error,
    write_atomic,
)
from nnkit.training.preflight import preflight, without_hydra

if TYPE_CHECKING:
    from nnkit.training.trainer import Assembled


def train(cfg: DictConfig, run_dir: str | Path, prepared: Prepared | None = None) -> dict[str, Any]:
    """Train and test as ``cfg`` says, writing everything into ``run_dir``; final metrics
    (with ``trainer.replicas``, their mean, ``_min`` and ``_max``, and under ``"replicas"``
    each replica's own).

    ``prepared`` is ``prepare(cfg, run_dir)``'s result when the caller already has it. A run
    resumed from a checkpoint that has nothing left to train re-reports its final metrics. A
    file the machine refuses to write is a one-line ``StorageError``.
    """
    import torch

    from nnkit.training.trainer import quiet_lightning

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


def _fit_and_test(cfg: DictConfig, run_dir: Path, prepared: Prepared) -> dict[str, Any]:
    """Fit, then test the final weights; the resolved config is written first."""
    from nnkit.training.lightning_module import final_metrics
    from nnkit.training.trainer import assemble
    from nnkit.training.trial_report import TrialReport

    run = assemble(cfg, run_dir, prepared, training=True)
    if run.trainer.is_global_zero:
        write_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True).encode())
    ckpt_path = str(prepared.resume.path) if prepared.resume is not None else None
    try:
        run.trainer.fit(run.module, datamodule=run.data, ckpt_path=ckpt_path)
    except SystemExit as stop:  # Lightning exits after handling Ctrl-C, and on SIGTERM
        if not run.trainer.interrupted:
            raise
        raise interrupted(stop, run_dir) from stop
    metrics: dict[str, Any] = final_metrics(run.trainer.callback_metrics)
    callbacks: list = run.trainer.callbacks  # type: ignore[attr-defined]
    pruned = next((c.outcome() for c in callbacks if isinstance(c, TrialReport)), None)
    if pruned is not None:
        metrics["pruned"] = pruned
    return _test_and_finish(run, metrics, run_dir, prepared, None)


def _report_finished(cfg: DictConfig, run_dir: Path, prepared: Prepared) -> dict[str, Any]:
    """A resumed run with nothing left to train (a requeued or resubmitted job, a second
    resume): its final metrics from the checkpoint and its test split, reported again, and
    ``metrics.json`` written again (the same); its logs and checkpoints are not touched."""
    from nnkit.training.lightning_module import final_metrics
    from nnkit.training.trainer import assemble

    resume = prepared.resume
    assert resume is not None
    print(
        f"nnkit.train: this run has finished already (epoch {resume.epochs_done}/"
        f"{cfg.trainer.max_epochs}, step {resume.steps_done}): nothing left to train; "
        f"its final metrics again"
    )
    run = assemble(cfg, run_dir, prepared, training=False)
    metrics: dict[str, Any] = dict(resume.metrics)
    if not metrics:  # a checkpoint from before nnkit kept its metrics: validate again
        ckpt = str(resume.path)
        (validated,) = run.trainer.validate(run.module, run.data, ckpt_path=ckpt, verbose=False)
        metrics.update(final_metrics(validated))
    return _test_and_finish(run, metrics, run_dir, prepared, str(resume.path))


def _test_and_finish(
    run: Assembled,
    metrics: dict[str, Any],
    run_dir: Path,
    prepared: Prepared,
    ckpt_path: str | None,
) -> dict[str, Any]:
    """Test (the weights in memory, or ``ckpt_path``'s), add each replica's metrics, and on
    rank 0 write what a finished run leaves."""
    from nnkit.training.lightning_module import final_metrics
    from nnkit.training.report import finish, replica_metrics

    (test,) = run.trainer.test(run.module, datamodule=run.data, ckpt_path=ckpt_path, verbose=False)
    metrics.update(final_metrics(test))
    if run.module.replicas > 1:
        metrics["replicas"] = replica_metrics(run.module.replica_scores)
    if run.trainer.is_global_zero:
        finish(run.trainer, run.module, metrics, run_dir, prepared)
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

    Raises nnkit's one-line errors (``nnkit.errors``) for bad input, before any folder exists:
    the command line's own preflight (``nnkit.training.preflight``) checks it.
    """
    full, prepared = preflight(list(overrides))
    cfg, run_dir = without_hydra(full), Path(full.hydra.run.dir)
    with run_lock(run_dir):
        return train(cfg, run_dir, prepared)

"""The Lightning side of a run, built from the config: the logger, the callbacks, the Trainer,
the LightningModule and the data module — ``assemble`` makes all of them, once, for a run that
trains and for a finished run that only reports again."""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.callbacks import RichProgressBar as RichBar
from pytorch_lightning.loggers import CSVLogger

from nnkit.catalog import registry_of
from nnkit.config.build import loss_name
from nnkit.config.prepare import Prepared
from nnkit.config.schema import compile_choice
from nnkit.data.datamodule import TensorDataModule
from nnkit.errors import ConfigError
from nnkit.maths.regularization import Regularization
from nnkit.search.trial import current_trial
from nnkit.training.callbacks import (
    AtomicCheckpointIO,
    BoardViews,
    FigureLogger,
    LastCheckpoint,
    PlainProgress,
    ProgressBar,
    SaveOnInterrupt,
)
from nnkit.training.compiled import planned_steps
from nnkit.training.epoch_calls import BestCheckpoint
from nnkit.training.lightning_module import NNKitModule
from nnkit.training.loop_choice import choose_epoch_loop
from nnkit.training.tensorboard_logger import TensorBoardRows
from nnkit.training.trial_report import TrialReport


def quiet_lightning() -> None:
    """Lightning's info lines (devices, "fit stopped") off; nnkit prints its own summary."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (
        ".*does not have many workers.*",
        ".*smaller than the logging interval.*",
        ".*treespec, LeafSpec.*",
        ".*exists and is not empty.*",
        ".*weights_only. was not set.*",
        ".*You requested to overfit but enabled.*",  # nnkit's batches stop shuffling themselves
        ".*callbacks used to create the checkpoint.*",  # testing a finished run's checkpoint
        ".*The `srun` command is available on your system but is not used.*",  # a login node
    ):
        warnings.filterwarnings("ignore", message=message)


def provenance(cfg: DictConfig, task: str) -> dict[str, str]:
    """Where each registry name the run uses came from (built-in, module or package)."""
    activation = cfg.model.get("activation", None)
    names = [activation] if isinstance(activation, str) else list(activation or [])
    used = [("activation", n) for n in names] + [
        ("model", cfg.model.name),
        ("dataset", cfg.data.name),
        ("loss", loss_name(cfg.loss, task)),
        ("optimizer", cfg.optimizer.name),
    ]
    return {f"{kind}:{name}": registry_of(kind).source(name) for kind, name in used}


@dataclass
class Assembled:
    """What Lightning runs: the module, the trainer and the data module of one run."""

    module: NNKitModule
    trainer: pl.Trainer
    data: TensorDataModule


def assemble(cfg: DictConfig, run_dir: Path, prepared: Prepared, training: bool) -> Assembled:
    """The run's trainer (with its logger and callbacks when ``training``; a finished run that
    only reports again writes no logs), the LightningModule for the trainer's device and the
    data module for its processes."""
    loop, reason = "lightning", ""
    if training:
        probe = build_trainer(cfg.trainer, run_dir, False, [])  # its world size and precision
        replicas = getattr(prepared.net, "replicas", 1)
        loop, reason = choose_epoch_loop(cfg, probe, prepared.net, prepared.data, replicas)
    logger = build_logger(cfg, run_dir) if training else False
    callbacks = build_callbacks(cfg, run_dir, prepared, loop) if training else []
    trainer = build_trainer(cfg.trainer, run_dir, logger, callbacks, validate=loop != "engine")
    module = build_module(cfg, prepared, loop)
    module.epoch_loop_reason = reason
    # DDP synchronises gradients once per forward of its wrapper: one step per call there.
    steps_per_call = cfg.trainer.steps_per_call if trainer.world_size == 1 else 1
    data = TensorDataModule(
        prepared.data,
        cfg.data.batch_size,
        cfg.data.eval_batch_size,
        cfg.seed,
        steps_per_call,
        replicas=module.replicas,
        epoch_calls=loop == "engine",
    )
    return Assembled(module, trainer, data)


def build_module(cfg: DictConfig, prepared: Prepared, loop: str = "lightning") -> NNKitModule:
    """The LightningModule, with everything needed to rebuild it stored as hyperparameters;
    its engine chooses the step from ``trainer.compile``, the run's length and batch size;
    ``loop`` is who runs the data epochs (``nnkit.training.loop_choice``)."""
    data, t = prepared.data, cfg.trainer
    if str(t.precision).startswith("64"):
        # float64 before Lightning restores a checkpoint: it loads the weights before its
        # precision plugin converts the module, which would round them through float32
        prepared.net.double()
    samples = len(data.train[0])
    steps = planned_steps(samples, cfg.data.batch_size, t.max_epochs, t.max_steps)
    hparams = {
        "config": prepared.config,
        "data": data.description(),
        "sources": provenance(cfg, data.task),
        "proof": prepared.proof.as_dict(),
    }
    return NNKitModule(
        prepared.net,
        prepared.loss,
        data.task,
        (data.classes, data.out_features),
        prepared.config["optimizer"],
        hparams,
        objective=prepared.objective,
        setting=compile_choice(t.compile),
        planned_steps=steps,
        batch_size=cfg.data.batch_size or samples,
        regularization=Regularization(cfg.regularization.kind, cfg.regularization.rate),
        epoch_loop=loop,
        patience=t.early_stopping_patience,
        scheduler=prepared.config.get("scheduler"),
        planned_epochs=t.max_epochs,
    )


def logger_names(cfg: DictConfig) -> list[str]:
    """The loggers a run writes to (``logger.name`` is one name or a list)."""
    name = cfg.logger.name
    names = [name] if isinstance(name, str) else list(name)
    return [n for n in names if n != "none"]


def build_logger(cfg: DictConfig, run_dir: Path) -> Any:
    """TensorBoard's logger in ``run_dir/tensorboard``, Lightning's CSV logger in
    ``run_dir/csv/metrics.csv``, both, or ``False`` for ``logger=none``."""
    loggers: list[Any] = []
    for name in logger_names(cfg):
        if name == "tensorboard":
            loggers.append(TensorBoardRows(str(run_dir), name="tensorboard", version=""))
        else:
            loggers.append(CSVLogger(save_dir=str(run_dir), name="csv", version=""))
    return loggers or False


def _progress_bar(kind: str) -> list[pl.Callback]:
    """The bar in a terminal; where stdout is not one (CI, a log file, a cluster job), a plain
    line every few epochs instead, with no carriage returns."""
    if kind == "none":
        return []
    if not sys.stdout.isatty():
        return [PlainProgress()]
    return [ProgressBar()] if kind == "tqdm" else [RichBar()]


def build_callbacks(
    cfg: DictConfig, run_dir: Path, prepared: Prepared, loop: str = "lightning"
) -> list[pl.Callback]:
    """Checkpoints (best by the objective, last), figures, the progress bar; where the engine
    runs the data epochs (``loop`` "engine"), its own best.ckpt and early stopping, which
    count data epochs."""
    monitor, mode = prepared.objective
    folder = run_dir / "checkpoints"
    interval = cfg.trainer.checkpoint_interval_s
    best: pl.Callback = ModelCheckpoint(
        dirpath=folder,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
    )
    if loop == "engine":
        best = BestCheckpoint(folder / "best.ckpt", interval)
    last = LastCheckpoint(folder / "last.ckpt", interval)
    callbacks: list[pl.Callback] = [best, last, SaveOnInterrupt(folder / "last.ckpt")]
    callbacks += _progress_bar(cfg.trainer.progress_bar)
    if "tensorboard" in logger_names(cfg):
        callbacks.append(BoardViews(prepared.data, OmegaConf.to_yaml(cfg, resolve=True)))
        if cfg.logger.figures:
            callbacks.append(FigureLogger(prepared.data, cfg.logger.figures_every_n_epochs))
    trial = current_trial()  # a job of an Optuna search: report to its study, maybe prune
    if trial is not None:
        trial.describe(run_dir)
        callbacks.append(TrialReport(trial, monitor))
    if cfg.trainer.early_stopping_patience > 0 and loop != "engine":
        callbacks.append(
            EarlyStopping(monitor=monitor, mode=mode, patience=cfg.trainer.early_stopping_patience)
        )
    return callbacks


def build_trainer(
    t: DictConfig, run_dir: Path, logger: Any, callbacks: list[pl.Callback], validate: bool = True
) -> pl.Trainer:
    """The Trainer as ``trainer.*`` says, writing checkpoints atomically (without Lightning's
    validation loop where not ``validate``: the engine's epoch loop validates). Settings
    Lightning refuses (an accelerator that is not there, a strategy it does not know) are
    one-line ``ConfigError``s."""
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        return _trainer(t, run_dir, logger, callbacks, validate)
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        detail = " ".join(str(error).split())
        raise ConfigError(
            f"trainer (accelerator={t.accelerator}, devices={t.devices}, strategy={t.strategy}, "
            f"precision={t.precision}): {detail}"
        ) from error


def check_trainer(t: DictConfig, run_dir: Path) -> None:
    """Raise a one-line ``ConfigError`` if Lightning would refuse the trainer settings."""
    quiet_lightning()
    build_trainer(t, run_dir, False, [])


def _trainer(
    t: DictConfig, run_dir: Path, logger: Any, callbacks: list[pl.Callback], validate: bool
) -> pl.Trainer:
    return pl.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        precision=t.precision,
        deterministic=t.deterministic,
        log_every_n_steps=t.log_every_n_steps,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        limit_val_batches=None if validate else 0,
        logger=logger,
        callbacks=callbacks,
        enable_progress_bar=any(isinstance(c, ProgressBar | RichBar) for c in callbacks),
        fast_dev_run=t.fast_dev_run,
        overfit_batches=t.overfit_batches,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],
    )

"""The Lightning side of a run: the LightningModule, the logger, the callbacks and the Trainer
built from the config, and what a finished run leaves (``metrics.json``, the summary)."""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.callbacks import RichProgressBar as RichBar
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from nnkit.build import Prepared, loss_name
from nnkit.callbacks import (
    AtomicCheckpointIO,
    BoardViews,
    FigureLogger,
    LastCheckpoint,
    PlainProgress,
    ProgressBar,
    SaveOnInterrupt,
)
from nnkit.errors import ConfigError
from nnkit.module import NNKitModule
from nnkit.registries import registry_of
from nnkit.storage import write_atomic


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


def build_module(cfg: DictConfig, prepared: Prepared) -> NNKitModule:
    """The LightningModule, with everything needed to rebuild it stored as hyperparameters."""
    data = prepared.data
    hparams = {
        "config": prepared.config,
        "data": data.description(),
        "sources": provenance(cfg, data.task),
        "proof": prepared.proof.as_dict(),
    }
    sizes = (data.classes, data.out_features)
    optimizer = OmegaConf.to_container(cfg.optimizer, resolve=True)
    module = NNKitModule(prepared.net, prepared.loss, data.task, sizes, optimizer, hparams)
    module.objective_metric = prepared.objective
    return module


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
            loggers.append(
                TensorBoardLogger(
                    save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False
                )
            )
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


def build_callbacks(cfg: DictConfig, run_dir: Path, prepared: Prepared) -> list[pl.Callback]:
    """Checkpoints (best by the objective, last), figures, the progress bar."""
    monitor, mode = prepared.objective
    folder = run_dir / "checkpoints"
    best = ModelCheckpoint(
        dirpath=folder,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
    )
    last = LastCheckpoint(folder / "last.ckpt", cfg.trainer.checkpoint_interval_s)
    callbacks: list[pl.Callback] = [best, last, SaveOnInterrupt(folder / "last.ckpt")]
    callbacks += _progress_bar(cfg.trainer.progress_bar)
    if "tensorboard" in logger_names(cfg):
        callbacks.append(BoardViews(prepared.data, OmegaConf.to_yaml(cfg, resolve=True)))
        if cfg.logger.figures:
            callbacks.append(FigureLogger(prepared.data, cfg.logger.figures_every_n_epochs))
    if cfg.trainer.early_stopping_patience > 0:
        callbacks.append(
            EarlyStopping(monitor=monitor, mode=mode, patience=cfg.trainer.early_stopping_patience)
        )
    return callbacks


def build_trainer(
    t: DictConfig, run_dir: Path, logger: Any, callbacks: list[pl.Callback]
) -> pl.Trainer:
    """The Trainer as ``trainer.*`` says, writing checkpoints atomically. Settings Lightning
    refuses (an accelerator that is not there, a strategy it does not know) are one-line
    ``ConfigError``s."""
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        return _trainer(t, run_dir, logger, callbacks)
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


def _trainer(t: DictConfig, run_dir: Path, logger: Any, callbacks: list[pl.Callback]):
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


def replica_metrics(scores: dict[str, Any]) -> list[dict[str, float]]:
    """Each replica's final metrics, from the per-replica values the module kept."""
    count = len(next(iter(scores.values()))) if scores else 0
    return [{key: float(values[r]) for key, values in sorted(scores.items())} for r in range(count)]


def replica_summary(metrics: dict[str, Any], monitor: str) -> str:
    """Mean, min and max of the monitored metric over replicas, and for accuracy how many
    replicas solved the task (reached 1.0)."""
    values = [replica[monitor] for replica in metrics["replicas"] if monitor in replica]
    if not values:
        return ""
    line = (
        f"replicas: {len(values)}; {monitor} mean {sum(values) / len(values):.4g}, "
        f"min {min(values):.4g}, max {max(values):.4g}"
    )
    if monitor.endswith("acc"):
        line += f"; solved {sum(v == 1.0 for v in values)}/{len(values)}"
    return line


def finish(trainer: pl.Trainer, metrics: dict[str, Any], run_dir: Path, prepared: Prepared) -> None:
    """Write metrics.json (with the objective and the gradient proof) and the
    hyperparameters, and print the summary."""
    name, mode = trainer.lightning_module.objective_metric
    metrics["objective"] = {"name": name, "mode": mode, "value": metrics.get(name)}
    metrics["proof"] = prepared.proof.as_dict()
    text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    write_atomic(run_dir / "metrics.json", text.encode())
    numbers = {k: v for k, v in metrics.items() if isinstance(v, float)}
    summary = run_summary(trainer, metrics, numbers, run_dir, prepared)
    hp_metrics = {
        f"hparams/{k.replace('/', '_')}": v for k, v in numbers.items() if math.isfinite(v)
    }
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(prepared.config, metrics=hp_metrics)  # the HPARAMS tab
            logger.experiment.add_text("summary", "```\n" + summary + "\n```", 0)  # the Text tab
        else:
            logger.log_hyperparams(prepared.config)
        logger.finalize("success")
    print("\n" + summary)
    if any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
        print(f"tensorboard --logdir {run_dir}")


def run_summary(
    trainer: pl.Trainer,
    metrics: dict[str, Any],
    numbers: dict[str, float],
    run_dir: Path,
    prepared: Prepared,
) -> str:
    """The run's summary: final metrics, replicas, data, backpropagation, proof, folder."""
    width = max(len(k) for k in numbers) if numbers else 0
    lines = ["final metrics:"] + [
        f"  {k.ljust(width)}  {v:.4g}" for k, v in sorted(numbers.items())
    ]
    module = trainer.lightning_module
    if "replicas" in metrics:
        lines.append(replica_summary(metrics, module.objective_metric[0]))
    lines += [
        prepared.data.summary(),
        f"backpropagation: {module.backprop}",
        prepared.proof.summary(),
        f"run folder: {run_dir}",
    ]
    return "\n".join(line for line in lines if line)

"""The Lightning side of a run: objects from the config, the Trainer, fit, test, and what a
run leaves behind (checkpoints, TensorBoard events, ``metrics.json``, the resolved config)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import TensorBoardLogger

from nnkit.activations import ACTIVATIONS
from nnkit.build import build_data, build_net, build_task_loss, loss_name, plain
from nnkit.callbacks import AtomicCheckpointIO, FigureLogger, LastCheckpoint, SaveOnInterrupt
from nnkit.checkpoints import check_resumable
from nnkit.config import ConfigError
from nnkit.data.dataset import DATASETS, TensorData
from nnkit.data.module import TensorDataModule
from nnkit.losses import LOSSES
from nnkit.models import MODELS
from nnkit.module import NNKitModule


def write_metrics(path: Path, metrics: dict[str, float]) -> None:
    """``metrics.json``: final metrics as plain numbers."""
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def provenance(cfg: DictConfig, task: str) -> dict[str, str]:
    """Where each registry name the run uses came from (built-in, module or package)."""
    activation = cfg.model.get("activation", None)
    names = [activation] if isinstance(activation, str) else list(activation or [])
    sources = {f"activation:{n}": ACTIVATIONS.source(n) for n in names}
    sources[f"model:{cfg.model.name}"] = MODELS.source(cfg.model.name)
    sources[f"dataset:{cfg.data.name}"] = DATASETS.source(cfg.data.name)
    loss = loss_name(cfg.loss, task)
    sources[f"loss:{loss}"] = LOSSES.source(loss)
    return sources


def build_module(cfg: DictConfig, data: TensorData) -> NNKitModule:
    """The LightningModule, with everything needed to rebuild it stored as hyperparameters."""
    net = build_net(cfg.model, data.in_features, data.out_features)
    loss = build_task_loss(cfg.loss, data.task, cfg.model.get("backend", "nnkit"))
    hparams = {
        "config": plain(cfg),
        "data": {
            "task": data.task,
            "in_features": data.in_features,
            "out_features": data.out_features,
            "classes": data.classes,
        },
        "sources": provenance(cfg, data.task),
    }
    optimizer = OmegaConf.to_container(cfg.optimizer, resolve=True)
    return NNKitModule(net, loss, data.task, (data.classes, data.out_features), optimizer, hparams)


def _progress_bar(kind: str) -> list[pl.Callback]:
    if kind == "tqdm":
        return [TQDMProgressBar()]
    if kind == "rich":
        try:
            from pytorch_lightning.callbacks import RichProgressBar

            return [RichProgressBar()]
        except (ImportError, ModuleNotFoundError) as error:
            raise ConfigError(
                f"trainer.progress_bar=rich needs the 'rich' package ({error})"
            ) from error
    return []


def build_trainer(cfg: DictConfig, run_dir: Path, data: TensorData) -> pl.Trainer:
    """The Trainer with its logger, checkpoints, figures and progress bar."""
    t = cfg.trainer
    monitor, mode = ("val/loss", "min") if data.task == "regression" else ("val/acc", "max")
    folder = run_dir / "checkpoints"
    best = ModelCheckpoint(
        dirpath=folder,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
    )
    last = LastCheckpoint(folder / "last.ckpt", t.checkpoint_interval_s)
    callbacks: list[pl.Callback] = [best, last, SaveOnInterrupt(folder / "last.ckpt")]
    callbacks += _progress_bar(t.progress_bar)
    logger: Any = False
    if cfg.logger.name == "tensorboard":
        logger = TensorBoardLogger(
            save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False
        )
        if cfg.logger.figures:
            callbacks.append(FigureLogger(data, cfg.logger.figures_every_n_epochs))
    trainer = pl.Trainer(
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
        enable_progress_bar=t.progress_bar != "none",
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],
    )
    return trainer


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if not k.endswith(("_step", "_epoch"))}


def fit_and_test(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """seed → data → model → trainer → fit → test → metrics, written into ``run_dir``."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    data = build_data(cfg.data)
    module = build_module(cfg, data)
    trainer = build_trainer(cfg, run_dir, data)
    # DDP synchronises gradients once per forward of its wrapper: one step per call there.
    steps_per_call = cfg.trainer.steps_per_call if trainer.world_size == 1 else 1
    datamodule = TensorDataModule(
        data, cfg.data.batch_size, cfg.data.eval_batch_size, cfg.seed, steps_per_call
    )
    ckpt_path = check_resumable(cfg.ckpt_path, run_dir, module.net)
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path and str(ckpt_path))
    except SystemExit as stop:  # Lightning exits after handling Ctrl-C
        if trainer.interrupted:
            from nnkit.cli import RunInterrupted

            last = run_dir / "checkpoints" / "last.ckpt"
            raise RunInterrupted(
                f"interrupted; saved {last} — resume with ckpt_path=last hydra.run.dir={run_dir}"
            ) from stop
        raise
    metrics = _numbers(trainer.callback_metrics)
    (test,) = trainer.test(module, datamodule=datamodule, verbose=False)
    metrics.update(_numbers(test))
    if trainer.is_global_zero:
        finish(trainer, metrics, run_dir, cfg)
    return metrics


def finish(trainer: pl.Trainer, metrics: dict[str, float], run_dir: Path, cfg: DictConfig) -> None:
    """Write metrics.json and the hyperparameters, and print the summary."""
    write_metrics(run_dir / "metrics.json", metrics)
    if trainer.logger is not None:
        hp_metrics = {
            f"hparams/{k.replace('/', '_')}": v for k, v in metrics.items() if math.isfinite(v)
        }
        trainer.logger.log_hyperparams(plain(cfg), metrics=hp_metrics)
        trainer.logger.finalize("success")
    width = max(len(k) for k in metrics) if metrics else 0
    lines = [f"  {k.ljust(width)}  {v:.4g}" for k, v in sorted(metrics.items())]
    print("\nfinal metrics:\n" + "\n".join(lines))
    print(f"run folder: {run_dir}")
    if trainer.logger is not None:
        print(f"tensorboard --logdir {run_dir}")

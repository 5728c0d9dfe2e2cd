"""Lightning callbacks and plugins: figures for TensorBoard, safe checkpoints.

- ``FigureLogger`` draws what the model has learned (``nnkit.figures``) every N epochs and at
  the end of training;
- ``SaveOnInterrupt`` writes ``last.ckpt`` when a run is stopped with Ctrl-C, never when it
  diverged;
- ``AtomicCheckpointIO`` writes each checkpoint to a temporary file in the same folder, syncs
  it to disk and renames it into place, so a run killed mid-write leaves the previous file
  whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from nnkit.data.dataset import TensorData


class FigureLogger(pl.Callback):
    """Logs the task's figures to TensorBoard every ``every_n_epochs`` (0: at the end only)."""

    def __init__(self, data: TensorData, every_n_epochs: int = 0) -> None:
        self.data, self.every_n_epochs = data, every_n_epochs

    def _draw(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.logger is None or not trainer.is_global_zero:
            return
        from matplotlib import pyplot as plt

        from nnkit.figures import figures_for

        was_training = module.training
        module.eval()
        for tag, figure in figures_for(module.net, self.data).items():
            trainer.logger.experiment.add_figure(tag, figure, global_step=trainer.global_step)
            plt.close(figure)
        module.train(was_training)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = epoch >= (trainer.max_epochs or 0)
        if self.every_n_epochs and epoch % self.every_n_epochs == 0 and not last:
            self._draw(trainer, module)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._draw(trainer, module)


class SaveOnInterrupt(pl.Callback):
    """On Ctrl-C, save ``last.ckpt`` so the run can be resumed; nothing on other failures."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, error: BaseException):
        if isinstance(error, KeyboardInterrupt):
            trainer.save_checkpoint(self.path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all: temporary file, fsync, rename."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

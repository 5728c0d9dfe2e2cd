"""Lightning callbacks and plugins: figures for TensorBoard, safe checkpoints.

- ``ProgressBar`` is tqdm's training bar, redrawn a few times a second; ``PlainProgress``
  prints plain lines instead where stdout is not a terminal;
- ``BoardViews`` fills TensorBoard's other tabs (``nnkit.viz.board``): Custom Scalars, Text, PR
  curves, the Projector, the Graph;
- ``FigureLogger`` draws what the model has learned (``nnkit.viz.figures``) every N epochs and at
  the end of training;
- ``LastCheckpoint`` writes ``last.ckpt`` at epoch ends, at most every few seconds;
- ``SaveOnInterrupt`` writes ``last.ckpt`` when a run is stopped with Ctrl-C, never when it
  diverged;
- ``AtomicCheckpointIO`` writes each checkpoint with ``nnkit.runs.storage.write_atomic`` (a
  temporary file in the same folder, synced, renamed into place), so a run killed mid-write or
  a full disk leaves the previous file whole.
"""

from __future__ import annotations

import copy
import io
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint, TQDMProgressBar
from pytorch_lightning.plugins.io import TorchCheckpointIO

from nnkit.data.dataset import TensorData
from nnkit.replicas import ReplicaMLP
from nnkit.runs.storage import write_atomic
from nnkit.viz.board import log_end, log_start


def tensorboard_of(trainer: pl.Trainer) -> Any:
    """The run's TensorBoard logger (figures and histograms go there), or None."""
    from pytorch_lightning.loggers import TensorBoardLogger

    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def _float32(net: Any) -> Any:
    """The network as the data's float32 tensors reach it (a copy where it trains in float64,
    ``trainer.precision=64``)."""
    weight = next(net.parameters(), None)
    if weight is None or weight.dtype == torch.float32:
        return net
    return copy.deepcopy(net).float()


class FigureLogger(pl.Callback):
    """Logs the task's figures to TensorBoard every ``every_n_epochs`` (0: at the end only)."""

    def __init__(self, data: TensorData, every_n_epochs: int = 0) -> None:
        self.data, self.every_n_epochs = data, every_n_epochs

    def _draw(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        board = tensorboard_of(trainer)
        if board is None or not trainer.is_global_zero:
            return
        from matplotlib import pyplot as plt

        from nnkit.viz.board import drawable, network_figure
        from nnkit.viz.figures import figures_for

        was_training = module.training
        module.eval()
        for suffix, trained in self._nets(module).items():
            net = _float32(trained)
            drawn = figures_for(net, self.data)
            if drawable(net):
                drawn["figures/network"] = network_figure(net, self.data)
            for tag, figure in drawn.items():
                board.experiment.add_figure(tag + suffix, figure, global_step=trainer.global_step)
                plt.close(figure)
        module.train(was_training)

    @staticmethod
    def _nets(module: Any) -> dict[str, Any]:
        """The network to draw; with replicas, the best and the worst by the objective
        (suffixes ``_best_rK`` and ``_worst_rK``)."""
        name, mode = module.objective_metric
        scores = module.replica_scores.get(name) if module.replicas > 1 else None
        if scores is None:
            return {"": module.net}
        order = scores.argsort(descending=mode == "max").tolist()
        best, worst = order[0], order[-1]
        return {
            f"_best_r{best}": module.net.replica(best),
            f"_worst_r{worst}": module.net.replica(worst),
        }

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = epoch >= (trainer.max_epochs or 0)
        if self.every_n_epochs and epoch % self.every_n_epochs == 0 and not last:
            self._draw(trainer, module)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._draw(trainer, module)


class BoardViews(pl.Callback):
    """Adds the views above to the run's TensorBoard (rank 0): the layout and the config when
    training starts, PR curves, the embedding and the graph when it ends."""

    def __init__(self, data: TensorData, config_yaml: str) -> None:
        self.data, self.config_yaml = data, config_yaml

    def _experiment(self, trainer: pl.Trainer) -> Any:
        board = tensorboard_of(trainer)
        return board.experiment if board is not None and trainer.is_global_zero else None

    def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        experiment = self._experiment(trainer)
        if experiment is not None:
            log_start(experiment, self.data.task, self.config_yaml)  # nnkit.viz.board

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        experiment = self._experiment(trainer)
        if experiment is None:
            return
        was_training = module.training
        module.eval()
        net = module.get_submodule("net")
        if isinstance(net, ReplicaMLP):  # the first replica speaks for the run
            net = net.replica(0)
        log_end(experiment, net, self.data, trainer.global_step)
        module.train(was_training)


class ProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar for training, redrawn at most every ``interval_s`` seconds (and at
    each epoch's end) instead of after every call, and without the separate bars that
    validation and testing would print each time: their metrics join the training bar."""

    def __init__(self, interval_s: float = 0.25) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._drawn_at = float("-inf")

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if getattr(pl_module, "epoch_calls", None) is None:
            super().on_train_epoch_start(trainer, pl_module)
            return
        bar = self.train_progress_bar  # one bar over the data epochs, for the engine's loop
        if bar is not None and bar.total != trainer.max_epochs:
            bar.reset(trainer.max_epochs)
            bar.set_description("Epochs")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.monotonic()
        if now - self._drawn_at < self.interval_s:
            return
        self._drawn_at = now
        if getattr(pl_module, "epoch_calls", None) is None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        bar = self.train_progress_bar
        if bar is not None and not bar.disable:
            bar.n = epochs_done(trainer, pl_module)
            bar.set_postfix(self.get_metrics(trainer, pl_module))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        bar = self.train_progress_bar
        if getattr(pl_module, "epoch_calls", None) is not None:
            if bar is not None and not bar.disable:
                bar.n = epochs_done(trainer, pl_module)
                bar.set_postfix(self.get_metrics(trainer, pl_module))
            return
        if bar is not None and not bar.disable:
            bar.n = bar.total if bar.total not in (None, float("inf")) else bar.n
        super().on_train_epoch_end(trainer, pl_module)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass

    def on_validation_batch_start(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_validation_batch_end(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.train_progress_bar is not None and trainer.state.fn == "fit":
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass

    def on_test_batch_start(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_test_batch_end(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass


def epochs_done(trainer: pl.Trainer, module: pl.LightningModule) -> int:
    """Data epochs trained: Lightning's epochs, or the engine's where its epoch loop runs many
    per Lightning call (``NNKitModule.epochs_done``)."""
    return int(getattr(module, "epochs_done", trainer.current_epoch))


class PlainProgress(pl.Callback):
    """For output that is not a terminal: one plain line every tenth of the run (and at its
    end) with the data epoch and the latest metrics — no bar, no carriage returns. A line is
    printed when the next Lightning epoch starts, once every hook has logged the finished one
    (with the engine's epoch loop, where a call crossed a tenth of the run)."""

    def __init__(self) -> None:
        self._printed = 0

    def _line(self, trainer: pl.Trainer, epoch: int) -> None:
        shown = {
            k: v
            for k, v in trainer.callback_metrics.items()
            if not k.endswith(("_step", "_epoch", "_min", "_max")) and k.count("/") == 1
        }
        values = "  ".join(f"{k} {float(v):.4g}" for k, v in sorted(shown.items()))
        print(
            f"epoch {epoch}/{trainer.max_epochs}  step {trainer.global_step}  {values}", flush=True
        )
        self._printed = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        done, tenth = epochs_done(trainer, pl_module), max(1, (trainer.max_epochs or 0) // 10)
        if done and done // tenth > self._printed // tenth:
            self._line(trainer, done)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        done = epochs_done(trainer, pl_module)
        if self._printed != done:
            self._line(trainer, done)


class LastCheckpoint(Checkpoint):
    """``last.ckpt`` at the end of an epoch — the first, then at most every ``interval_s``
    seconds, and the last — so a long run loses at most that much work to a kill while short
    epochs do not pay a write each. Resuming from it continues exactly (``ckpt_path=last``).
    As a ``Checkpoint``, Lightning calls it after the module's own epoch end, so the saved
    file holds that epoch's training metrics too."""

    def __init__(self, path: Path, interval_s: float) -> None:
        self.path, self.interval_s = path, interval_s
        self._saved_at: float | None = None
        self._saved_step = -1

    def _save(self, trainer: pl.Trainer) -> None:
        trainer.save_checkpoint(self.path)
        self._saved_at, self._saved_step = time.monotonic(), trainer.global_step

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        last_epoch = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        due = self._saved_at is None or time.monotonic() - self._saved_at >= self.interval_s
        if due or last_epoch or trainer.should_stop:
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """The run's end where no epoch's end wrote it (``trainer.max_steps`` ended the run
        inside an epoch)."""
        if self._saved_step != trainer.global_step:
            self._save(trainer)


class SaveOnInterrupt(pl.Callback):
    """On Ctrl-C or SIGTERM (what schedulers and ``kill`` send), save ``last.ckpt`` so the run
    can be resumed; nothing on other failures. Lightning turns SIGTERM into its
    ``SIGTERMException`` after the training call in progress, so the checkpoint falls between
    two optimizer steps."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, error: BaseException):
        from pytorch_lightning.utilities.exceptions import SIGTERMException

        if isinstance(error, KeyboardInterrupt | SIGTERMException):
            trainer.save_checkpoint(self.path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all (temporary file, fsync, rename), and read back
    as plain data only (``weights_only=True``), so loading one never runs code."""

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only=None) -> dict:
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        buffer = io.BytesIO()  # serialised in memory: the disk sees one plain write
        torch.save(checkpoint, buffer)
        write_atomic(Path(path), buffer.getvalue())

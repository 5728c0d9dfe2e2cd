"""The LightningModule: Lightning's hooks, the logging and the checkpoint's state around
nnkit's training engine (``nnkit.training.engine``), which owns the step.

One training call takes the optimizer steps of several minibatches (``steps_per_call``): the
same minibatch gradient descent, step for step, with Lightning's per-call work paid once per
group instead of once per minibatch. With ``epoch_loop="engine"`` one call takes many whole
data epochs, their validation and metrics included (``nnkit.training.epoch_calls``). Metrics
come from torchmetrics, chosen by the task, and are logged grouped by stage: ``train/loss``,
``val/acc``, ``test/r2``, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytorch_lightning as pl
import torch
from pytorch_lightning.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection

from nnkit.maths.regularization import Regularization
from nnkit.rng import rng_state, set_rng_state
from nnkit.training.callbacks import tensorboard_of
from nnkit.training.divergence import check_losses, check_weights
from nnkit.training.engine import Engine
from nnkit.training.epoch_calls import BestState, EpochCalls, best_checkpoint
from nnkit.training.epoch_loop import EpochLoop, Watch
from nnkit.training.task_metrics import metric_collection
from nnkit.viz.board import log_replica_scores

LastStep = tuple[Sequence[Tensor], Sequence[Tensor]]  # the weights, their last gradients


def final_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Epoch-level metrics as plain numbers (the ``_step``/``_epoch`` copies left out).

    >>> final_metrics({"val/acc": torch.tensor(0.5), "train/loss_step": torch.tensor(1.0)})
    {'val/acc': 0.5}
    """
    return {k: float(v) for k, v in metrics.items() if not k.endswith(("_step", "_epoch"))}


class NNKitModule(pl.LightningModule):
    """Trains ``net`` on ``loss`` for a ``task`` through nnkit's training engine
    (``nnkit.training.engine``), keeping Lightning's concerns: its hooks, the logging, the
    checkpoint's state. ``sizes`` is (classes, outputs) of the data, ``optimizer`` the
    optimizer's config section; ``hparams`` (plain data) go into checkpoints; ``objective`` is
    the metric best.ckpt follows and its mode (by default the task's); ``setting`` is
    ``trainer.compile``, ``planned_steps`` the run's length and ``batch_size`` its
    minibatches', from which the engine chooses its step; ``regularization`` penalises the
    weights' size (L1 or L2); ``scheduler`` the learning-rate schedule's config section, for a
    run of ``planned_epochs``. ``epoch_loop`` is "engine" where one Lightning call runs many
    data epochs (``nnkit.training.epoch_calls``; ``patience`` its early stopping), else
    "lightning"."""

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        task: str,
        sizes: tuple[int, int],
        optimizer: dict[str, Any],
        hparams: dict[str, Any] | None = None,
        objective: tuple[str, str] | None = None,
        setting: Any = "auto",
        planned_steps: int = 0,
        batch_size: int = 0,
        regularization: Regularization | None = None,
        epoch_loop: str = "lightning",
        patience: int = 0,
        scheduler: dict[str, Any] | None = None,
        planned_epochs: int = 0,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.save_hyperparameters(hparams or {}, logger=False)  # logged once, with the metrics
        self.net, self.loss, self.optimizer_cfg = net, loss, optimizer
        classes, outputs = sizes
        length = (planned_epochs, planned_steps)
        self.engine = Engine(net, loss, task, outputs, optimizer, regularization, scheduler, length)
        self.task, self.replicas = self.engine.task, self.engine.replicas
        self.setting, self.planned_steps = setting, planned_steps
        self.batch_size = batch_size
        self.replica_scores: dict[str, Tensor] = {}  # per-replica metrics, latest of each
        self.objective_metric = objective or (self.task.monitor, self.task.mode)
        self.train_metrics = metric_collection(
            self.task.name, classes, outputs, "train/", self.replicas
        )
        self.val_metrics = metric_collection(
            self.task.name, classes, outputs, "val/", self.replicas
        )
        self.test_metrics = metric_collection(
            self.task.name, classes, outputs, "test/", self.replicas
        )
        self.eval_losses = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        self.train_loss = MeanMetric()  # the epoch's, weighted by batch size
        self.epoch_loop, self.patience = epoch_loop, patience
        self.epoch_loop_reason = ""  # why, in words, for the run's summary
        self.epoch_calls: EpochCalls | None = None  # made at on_train_start, for "engine"
        self.writing_best: BestState | None = None  # while best.ckpt is being written
        self._loop_state: dict[str, Any] = {}  # a resumed run's, until the loop exists
        self._epoch_lr = 0.0  # the rate the data epoch under way started at
        self._validated = False  # whether the epoch under way was validated (Lightning's loop)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def on_train_start(self) -> None:
        """The engine chooses its step; Lightning steps where only it can: DDP (its reducer
        hooks are armed by ``manual_backward``) and precisions that need its scaler."""
        precision = str(self.trainer.precision)
        alone = self.trainer.world_size == 1
        plain = alone and precision in ("32-true", "64-true", "32", "64")
        lightning = None if plain else (self.manual_backward, self._optimizer())
        self.engine.start(self.setting, self.planned_steps, self.batch_size, lightning)
        if self.epoch_loop == "engine":
            self.epoch_calls = self._epoch_calls()

    def _epoch_calls(self) -> EpochCalls:
        """The engine's epoch loop over the data module's splits, on this module's device and
        in its precision (as Lightning's precision converts each batch)."""
        data: Any = self.trainer.datamodule  # type: ignore[attr-defined]  # set by Lightning
        convert = self.trainer.precision_plugin.convert_input
        loop = EpochLoop(
            self.engine,
            convert(data.on_device(data.data.train)),
            convert(data.on_device(data.data.val)),
            data.batch_size,
            data.seed,
            self.trainer.check_val_every_n_epoch or 1,
            data.eval_batch_size,
        )
        watch = Watch(*self.objective_metric, patience=self.patience)
        calls = EpochCalls(self, loop, watch)
        calls.restore(self._loop_state)
        return calls

    @property
    def epochs_done(self) -> int:
        """Data epochs trained to their end."""
        if self.epoch_calls is not None:
            return self.epoch_calls.epochs_done
        return self.current_epoch

    @property
    def backprop(self) -> str:
        """How this module's training step computes its gradients, in words."""
        return self.engine.describe()

    def steps_left(self, wanted: int) -> int:
        """Of ``wanted`` more optimizer steps, how many ``trainer.max_steps`` allows."""
        max_steps = self.trainer.max_steps
        return wanted if max_steps < 0 else max(0, min(wanted, max_steps - self.global_step))

    def count_steps(self, steps: int) -> None:
        """The engine's optimizer steps counted in Lightning's progress (its ``global_step``),
        as ``LightningOptimizer.step`` counts the steps it takes itself."""
        if steps:
            progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
            progress.increment_by(steps)

    def training_step(self, batches: Any, batch_idx: int) -> None:
        if self.epoch_calls is not None:  # the call's one "batch" stands for its data epochs
            self.epoch_calls.run()
            return
        batches = batches[: self.steps_left(len(batches))]
        if not batches:
            return
        call = self.engine.train(batches)
        self.count_steps(call.steps)
        losses = call.losses
        check_losses(losses, self.global_step, self.current_epoch, self.optimizer_cfg.get("lr"))
        along = self.engine.along
        sizes = torch.tensor([y.shape[along] for _, y in batches], dtype=losses.dtype)
        self.train_loss.update(losses, weight=sizes.to(losses.device))
        self.log_steps(call.losses)
        targets = torch.cat([y for _, y in batches], dim=along)
        self.train_metrics.update(*self.engine.metric_inputs(call.outputs, targets))
        schedule = self.engine.schedule
        if not schedule.watches and self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            schedule.epoch_ended({})  # before validation and its checkpoints, as the engine's loop

    def log_steps(self, losses: Tensor) -> None:
        """The step-level values, where the steps that just ran (their costs ``losses``)
        crossed a multiple of ``log_every_n_steps``."""
        every = self.trainer.log_every_n_steps  # type: ignore[attr-defined]  # set by Lightning
        if self.global_step // every > (self.global_step - len(losses)) // every:
            row = {"train/loss_step": float(losses.mean()), **self.grad_norms(self.engine.last)}
            for logger in self.loggers:
                logger.log_metrics(row, step=self.global_step)

    def grad_norms(self, last: LastStep) -> dict[str, float]:
        """Each weight's and bias's gradient norm (``grad_norm/<name>``), from the gradients
        ``last`` holds for the weights, else their ``.grad`` (with replicas, the mean over
        replicas): the vanishing gradient, in every run. Step-level rows are written to the
        loggers directly (``self.log`` costs a millisecond a call)."""
        params, last_grads = last
        grads = {id(param): grad for param, grad in zip(params, last_grads, strict=True)}
        norms = {}
        for name, param in self.net.named_parameters():
            grad = grads.get(id(param), param.grad)
            if grad is not None:
                grad = grad.flatten(1) if self.replicas > 1 else grad.flatten()
                norms[f"grad_norm/{name}"] = float(grad.norm(dim=-1).mean())
        return norms

    def on_validation_epoch_start(self) -> None:
        """Before validation (and the checkpoints it triggers): weights must be finite."""
        if self.trainer.training or self.trainer.state.fn == "fit":
            check_weights(self.net, self.global_step, self.optimizer_cfg.get("lr"))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Random-number generator states, as plain data, for exact resume; the latest
        epoch-level metrics (a finished run re-reports them when resumed); with replicas, each
        replica's latest metrics (``nnkit.predict replica=best`` reads them)."""
        checkpoint["nnkit_rng"] = rng_state()
        checkpoint["nnkit_train_loss"] = dict(self.train_loss.metric_state)  # mid-epoch resume
        checkpoint["nnkit_metrics"] = final_metrics(self.trainer.callback_metrics)
        if self.replica_scores:
            checkpoint["nnkit_replica_scores"] = dict(self.replica_scores)
            checkpoint["nnkit_objective"] = list(self.objective_metric)
        if self.epoch_calls is not None:  # the epoch a file names is the latest data epoch
            checkpoint["nnkit_epoch_loop"] = self.epoch_calls.checkpoint()
            checkpoint["epoch"] = max(self.epoch_calls.epochs_done - 1, 0)
        if self.writing_best is not None:
            best_checkpoint(checkpoint, self.writing_best)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "nnkit_rng" in checkpoint:
            set_rng_state(checkpoint["nnkit_rng"])
        for name, value in checkpoint.get("nnkit_train_loss", {}).items():
            setattr(self.train_loss, name, value.to(self.device))
            self.train_loss._update_count = 1
        self.replica_scores.update(checkpoint.get("nnkit_replica_scores", {}))
        self._loop_state = checkpoint.get("nnkit_epoch_loop", {})

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        x, y = batch
        outputs, loss = self.engine.evaluate(x, y)
        cast(MeanMetric, self.eval_losses[stage]).update(loss, weight=len(x))
        getattr(self, f"{stage}_metrics").update(*self.engine.metric_inputs(outputs, y))

    def _log_eval_loss(self, stage: str) -> None:
        """The stage's loss over its whole split: a mean weighted by batch size that torchmetrics
        reduces over every rank under DDP (each rank evaluates its shard)."""
        mean = cast(MeanMetric, self.eval_losses[stage])
        self.log(f"{stage}/loss", mean.compute())
        mean.reset()

    def _log_metrics(self, metrics: MetricCollection) -> None:
        """Compute an epoch's metrics once and log them; with replicas, their mean (under the
        usual key), min and max, a histogram, and each replica's own curve."""
        values = metrics.compute()
        metrics.reset()
        if self.replicas == 1:
            self.log_dict(values)
            return
        board = tensorboard_of(self.trainer)
        experiment = board.experiment if board is not None else None
        for key, per_replica in values.items():
            per_replica = per_replica.detach().float()
            self.replica_scores[key] = per_replica.cpu()
            self.log(key, per_replica.mean())
            self.log(f"{key}_min", per_replica.min())
            self.log(f"{key}_max", per_replica.max())
            if experiment is not None and self.trainer.is_global_zero:
                log_replica_scores(experiment, key, per_replica, self.global_step)

    def on_validation_epoch_end(self) -> None:
        self._validated = not self.trainer.sanity_checking
        self._log_eval_loss("val")
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_eval_loss("test")
        self._log_metrics(self.test_metrics)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_train_epoch_start(self) -> None:
        self._epoch_lr = self.engine.schedule.lr

    def on_train_epoch_end(self) -> None:
        """The epoch's training loss (a mean weighted by batch size, reduced over ranks) and
        metrics, computed once (updated once per call), and the rate it started at; then
        ``plateau``'s next rate (other schedules step with the epoch's last training call);
        nothing where the engine's epoch loop did all this itself."""
        if self.epoch_calls is not None:
            return
        loss = self.train_loss.compute()
        self.train_loss.reset()
        self.log("train/loss", loss, logger=False)  # the run's metrics; loggers get it below
        if self.trainer.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics({"train/loss_epoch": float(loss)}, step=self.global_step)
        self._log_metrics(self.train_metrics)
        self.log("train/lr", self._epoch_lr, on_epoch=True, on_step=False)
        validated, self._validated = self._validated, False
        if self.engine.schedule.watches:  # plateau: after the validation it follows
            metrics = final_metrics(self.trainer.callback_metrics)
            self.engine.schedule.epoch_ended(
                {k: v for k, v in metrics.items() if validated or not k.startswith("val/")}
            )

    def _optimizer(self) -> LightningOptimizer:
        """The run's one optimizer, as Lightning wraps it."""
        optimizer = self.optimizers()
        assert not isinstance(optimizer, list), "configure_optimizers returns one optimizer"
        return optimizer

    def configure_optimizers(self) -> Any:
        """The engine's optimizer, and its scheduler where the rate moves (so checkpoints keep
        the scheduler's state; the engine steps it)."""
        scheduler = self.engine.schedule.scheduler
        if scheduler is None:
            return self.engine.optimizer
        return {"optimizer": self.engine.optimizer, "lr_scheduler": scheduler}

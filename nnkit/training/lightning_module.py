"""The LightningModule: the only place that knows about steps, logging and optimizers.

One training call takes the optimizer steps of several minibatches (``steps_per_call``): the
same minibatch gradient descent, step for step, with Lightning's per-call work paid once per
group instead of once per minibatch. Metrics come from torchmetrics, chosen by the task, and
are logged grouped by stage: ``train/loss``, ``val/acc``, ``test/r2``, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import pytorch_lightning as pl
import torch
from pytorch_lightning.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection

from nnkit.data.task import TASKS, loss_feed, loss_inputs, replica_columns
from nnkit.maths.network import DirectBackprop, direct_backprop, network_loss_grads
from nnkit.maths.regularization import Regularization
from nnkit.optimizers import build_optimizer
from nnkit.rng import rng_state, set_rng_state
from nnkit.training.callbacks import tensorboard_of
from nnkit.training.compiled import CompiledStep
from nnkit.training.direct_update import WeightUpdates
from nnkit.training.divergence import check_losses, check_weights
from nnkit.training.native_steps import NativeCalls, plan_native
from nnkit.viz.board import log_replica_scores


def final_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Epoch-level metrics as plain numbers (the ``_step``/``_epoch`` copies left out).

    >>> final_metrics({"val/acc": torch.tensor(0.5), "train/loss_step": torch.tensor(1.0)})
    {'val/acc': 0.5}
    """
    return {k: float(v) for k, v in metrics.items() if not k.endswith(("_step", "_epoch"))}


class NNKitModule(pl.LightningModule):
    """Trains ``net`` on ``loss`` for a ``task``; ``sizes`` is (classes, outputs) of the data,
    ``optimizer`` the optimizer's config section; ``hparams`` (plain data) go into checkpoints;
    ``objective`` is the metric best.ckpt follows and its mode (by default the task's);
    ``compile_step`` says how the hand-derived step runs: ``eager``, ``inductor`` (through
    torch.compile) or ``native`` (nnkit's native program), as ``trainer.compile`` (``setting``)
    decided it; ``regularization`` penalises the weights' size (L1 or L2)."""

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        task: str,
        sizes: tuple[int, int],
        optimizer: dict[str, Any],
        hparams: dict[str, Any] | None = None,
        objective: tuple[str, str] | None = None,
        compile_step: str = "eager",
        setting: str = "auto",
        regularization: Regularization | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.save_hyperparameters(hparams or {}, logger=False)  # logged once, with the metrics
        self.net, self.loss, self.task, self.optimizer_cfg = net, loss, TASKS[task], optimizer
        self.prepare = loss_inputs(task, loss)
        self.feed = loss_feed(task, loss)
        classes, outputs = sizes
        self.outputs = outputs
        self.replicas = getattr(net, "replicas", 1)
        if self.replicas > 1:  # each replica's own loss, summed: a built-in loss with "sum"
            self.summed_loss = type(loss)(reduction="sum", backend=loss.backend)
        self.replica_scores: dict[str, Tensor] = {}  # per-replica metrics, latest of each
        self.objective_metric = objective or (self.task.monitor, self.task.mode)
        self.train_metrics = TASKS[task].collection(classes, outputs, "train/", self.replicas)
        self.val_metrics = TASKS[task].collection(classes, outputs, "val/", self.replicas)
        self.test_metrics = TASKS[task].collection(classes, outputs, "test/", self.replicas)
        self.eval_losses = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        self.train_loss = MeanMetric()  # the epoch's, weighted by batch size
        self._updates: WeightUpdates | None = None  # the optimizer's, per training call
        self._direct: DirectBackprop | None = None  # what the hand-derived step needs
        self._network_params: Callable[[], list[Tensor]] | None = None
        self.compile_step, self.compile_setting = compile_step, setting
        self._grads: Any = network_loss_grads
        self._native: Any = None  # the native program, where it runs this run's steps
        self.regularization = regularization or Regularization()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def objective(self, outputs: Tensor, y: Tensor) -> Tensor:
        """The loss; with replicas, the sum of every replica's own loss (so each replica's
        gradient is its single run's), from the loss's ``sum`` and each replica's count."""
        if self.replicas == 1:
            return self.loss(*self.prepare(outputs, y))
        values, targets = self.prepare(outputs, self._per_replica(y, outputs))
        summed = self.summed_loss
        if self.loss.reduction != "mean":
            return summed(values, targets)
        counted = values if getattr(self.loss, "targets", "dense") == "dense" else targets
        return summed(values, targets) / (counted.numel() // self.replicas)

    def _per_replica(self, y: Tensor, outputs: Tensor) -> Tensor:
        """Targets with the replica dimension (evaluation shares one batch among replicas):
        class indices have one dimension fewer than the outputs, other targets as many."""
        full = outputs.dim() - (1 if self.task.name == "multiclass" else 0)
        return y.expand(self.replicas, *y.shape) if y.dim() < full else y

    def _metric_inputs(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        preds, target = self.task.predict(outputs), y.long() if self.task.integer_targets else y
        if self.replicas > 1 and target.dim() < preds.dim():
            target = target.expand(self.replicas, *target.shape)
        if self.replicas > 1 and not self.task.integer_targets:
            return replica_columns(preds), replica_columns(target)
        return preds, target

    def on_train_start(self) -> None:
        precision = str(self.trainer.precision)
        # DDP reduces gradients in autograd hooks that only Lightning's manual_backward arms
        # (its strategy prepares the reducer): under DDP every step goes through Lightning.
        alone = self.trainer.world_size == 1
        self._plain_steps = alone and precision in ("32-true", "64-true", "32", "64")
        # Lightning counts manual optimizer steps (global_step) in this progress tracker when
        # its LightningOptimizer.step runs; the plain steps call torch's optimizer directly,
        # so they count themselves here (nnkit's resume tests check the count stays exact).
        manual_loop = self.trainer.fit_loop.epoch_loop.manual_optimization
        self._step_progress = manual_loop.optim_step_progress
        self._direct = direct_backprop(self.net, self.loss, self.feed.squash) if alone else None
        self._network_params = getattr(self.net, "network_params", None)
        if self._direct is None or not self._plain_steps:
            return
        if self.compile_step == "inductor":
            self._grads = CompiledStep(network_loss_grads)
        elif self.compile_step == "native" and self._network_params is not None:
            params, optimizer = self._network_params(), self._optimizer().optimizer
            penalty = (self.regularization.kind, self.regularization.rate)
            program = plan_native(
                self._direct, params, optimizer, self.replicas, self.compile_setting, penalty
            )
            along = 1 if self.replicas > 1 else 0
            if program is not None:
                self._native = NativeCalls(program, self._network_params, self._targets, along)

    @property
    def backprop(self) -> str:
        """How this module's training step computes its gradients, in words."""
        if getattr(self, "_direct", None) is not None and self._plain_steps:
            together = f"; {self.replicas} replicas as one program" if self.replicas > 1 else ""
            compiled = getattr(self._grads, "compiled", False)
            how = "compiled by torch.compile" if compiled else "run directly"
            if getattr(self, "_native", None) is not None:
                how = "run by nnkit's native program (nnkit.native)"
            return (
                f"whole network, hand-derived (nnkit.maths.network), {how} in each step{together}"
            )
        return getattr(self.net, "backprop", "torch autograd")

    def _targets(self, y: Tensor, dtype: torch.dtype) -> Tensor:
        """The loss's targets for the labels ``y`` (one-hot rows, class indices, values)."""
        return self.feed.targets(y, self.outputs, dtype)

    def _direct_step(self, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor):
        """One minibatch by the article's backpropagation itself: forward keeping every
        layer's values, the error walked back to every weight, the corrections handed to the
        optimizer — the same functions as the network's autograd Function, without a graph."""
        assert self._direct is not None and self._network_params is not None
        pairs, loss_pair, squash = self._direct
        params = self._network_params()
        target = self._targets(y, x.dtype)
        loss, outputs, grads = self._grads(
            x, target, pairs, params, loss_pair, squash, self.regularization
        )
        self._update_weights(optimizer, params, grads)
        return outputs, loss

    def _update_weights(
        self, optimizer: torch.optim.Optimizer, params: Sequence[Tensor], grads: Sequence[Tensor]
    ) -> None:
        """The optimizer's update from ``grads`` (``WeightUpdates``: its kernel called directly,
        bit for bit ``step()``), counted in Lightning's progress as
        ``LightningOptimizer.step`` would."""
        assert self._updates is not None  # built at the start of each training call
        self._updates(params, grads)
        self._step_progress.increment_ready()
        self._step_progress.increment_completed()

    def _with_penalty(self, loss: Tensor) -> Tensor:
        """The data's cost plus the regularization's penalty of the weights (what the autograd
        steps differentiate; the cost logged is the data's alone, as in validation)."""
        if not self.regularization.active:
            return loss
        return loss + self.regularization.cost(self._weights())

    def _weights(self) -> list[Tensor]:
        """The weight tensors the penalty reaches: every layer's weights, not the biases."""
        if self._network_params is not None:
            return self._network_params()[0::2]
        return [p for name, p in self.net.named_parameters() if name.endswith("weight")]

    def _steps_left(self, wanted: int) -> int:
        max_steps = self.trainer.max_steps
        return wanted if max_steps < 0 else max(0, min(wanted, max_steps - self.global_step))

    def _plain_step(self, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor):
        """One minibatch in full precision: zero the gradients, forward, backward, step — torch
        called directly, and the step counted in Lightning's progress (what
        ``LightningOptimizer.step`` does, without its per-step hook dispatch)."""
        optimizer.zero_grad(set_to_none=True)
        outputs = self.net(x)
        loss = self.objective(outputs, y)
        self._with_penalty(loss).backward()
        params, grads = [], []
        for param in self.net.parameters():
            if param.grad is not None:
                params.append(param)
                grads.append(param.grad)
        self._update_weights(optimizer, params, grads)
        return outputs, loss

    def _lightning_step(self, optimizer: Any, x: Tensor, y: Tensor):
        """One minibatch through Lightning, for precisions that need its scaler and hooks."""
        optimizer.zero_grad(set_to_none=True)
        outputs = self.net(x)
        loss = self.objective(outputs, y)
        self.manual_backward(self._with_penalty(loss))
        optimizer.step()
        return outputs, loss

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        batches = batches[: self._steps_left(len(batches))]
        if not batches:
            return
        lightning_optimizer = self._optimizer()
        step = self._plain_step if self._plain_steps else self._lightning_step
        step = self._direct_step if self._plain_steps and self._direct is not None else step
        optimizer: Any = lightning_optimizer.optimizer if self._plain_steps else lightning_optimizer
        # built per call: loading a checkpoint replaces the optimizer's state tensors
        self._updates = WeightUpdates(optimizer) if self._plain_steps else None
        along = 1 if self.replicas > 1 else 0  # the batch dimension
        expand = getattr(self.net, "expand", None)
        if self._direct is not None and self._plain_steps and expand is not None:
            batches = [(expand(x), y) for x, y in batches]  # the hand-derived steps' inputs
        if self._native is not None:
            call = self._native(optimizer, batches, self._direct_step)
            self._step_progress.increment_by(call.native_steps)  # torch's first step counted
            if call.native_steps:  # the gradients logged are the program's last step's
                assert self._updates is not None
                self._updates.last = call.last
            losses_t, outputs_t = call.losses, call.outputs
        else:
            losses, outputs = [], []
            for x, y in batches:
                out, loss = step(optimizer, x, y)
                losses.append(loss.detach())
                outputs.append(out.detach())
            losses_t, outputs_t = torch.stack(losses), torch.cat(outputs, dim=along)
        losses_t = losses_t / self.replicas  # (steps,): the mean over replicas
        check_losses(losses_t, self.global_step, self.current_epoch, self.optimizer_cfg.get("lr"))
        sizes = torch.tensor([y.shape[along] for _, y in batches], dtype=losses_t.dtype)
        self.train_loss.update(losses_t, weight=sizes.to(losses_t.device))
        every = self.trainer.log_every_n_steps  # type: ignore[attr-defined]  # set by Lightning
        if self.global_step // every > (self.global_step - len(batches)) // every:
            self._log_step_values(losses_t.mean())
        targets = torch.cat([y for _, y in batches], dim=along)
        self.train_metrics.update(*self._metric_inputs(outputs_t, targets))

    def _log_step_values(self, loss: Tensor) -> None:
        """At every ``log_every_n_steps``: the training loss of the latest call's steps
        (``train/loss_step``) and each weight's and bias's gradient norm, from the gradients the
        last step computed (with replicas, the mean over replicas): the vanishing gradient, in
        every run. Written to the loggers directly (``self.log`` costs a millisecond a call)."""
        norms = {"train/loss_step": float(loss)}
        params, last = self._updates.last if self._updates is not None else ([], [])
        grads = {id(param): grad for param, grad in zip(params, last, strict=True)}
        for name, param in self.net.named_parameters():
            grad = grads.get(id(param), param.grad)
            if grad is not None:
                grad = grad.flatten(1) if self.replicas > 1 else grad.flatten()
                norms[f"grad_norm/{name}"] = float(grad.norm(dim=-1).mean())
        for logger in self.loggers:
            logger.log_metrics(norms, step=self.global_step)

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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "nnkit_rng" in checkpoint:
            set_rng_state(checkpoint["nnkit_rng"])
        for name, value in checkpoint.get("nnkit_train_loss", {}).items():
            setattr(self.train_loss, name, value.to(self.device))
            self.train_loss._update_count = 1
        self.replica_scores.update(checkpoint.get("nnkit_replica_scores", {}))

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        x, y = batch
        outputs = self.net(x)
        loss = self.objective(outputs, y) / self.replicas
        cast(MeanMetric, self.eval_losses[stage]).update(loss.detach(), weight=len(x))
        getattr(self, f"{stage}_metrics").update(*self._metric_inputs(outputs, y))

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
        self._log_eval_loss("val")
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_eval_loss("test")
        self._log_metrics(self.test_metrics)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_train_epoch_end(self) -> None:
        """The epoch's training loss (a mean weighted by batch size, reduced over ranks) and
        metrics, computed once (updated once per call), and the lr."""
        loss = self.train_loss.compute()
        self.train_loss.reset()
        self.log("train/loss", loss, logger=False)  # the run's metrics; loggers get it below
        if self.trainer.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics({"train/loss_epoch": float(loss)}, step=self.global_step)
        self._log_metrics(self.train_metrics)
        lr = self._optimizer().param_groups[0]["lr"]
        self.log("train/lr", lr, on_epoch=True, on_step=False)

    def _optimizer(self) -> LightningOptimizer:
        """The run's one optimizer, as Lightning wraps it."""
        optimizer = self.optimizers()
        assert not isinstance(optimizer, list), "configure_optimizers returns one optimizer"
        return optimizer

    def configure_optimizers(self) -> torch.optim.Optimizer:
        settings = dict(self.optimizer_cfg)
        return build_optimizer(settings.pop("name"), self.net.parameters(), **settings)

"""The LightningModule: the only place that knows about steps, logging and optimizers.

One training call takes the optimizer steps of several minibatches (``steps_per_call``): the
same minibatch gradient descent, step for step, with Lightning's per-call work paid once per
group instead of once per minibatch. Metrics come from torchmetrics, chosen by the task, and
are logged grouped by stage: ``train/loss``, ``val/acc``, ``test/r2``, ...
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import Tensor, nn

from nnkit.activations import build_activation
from nnkit.data.dataset import Task
from nnkit.task import loss_inputs, predictions

OPTIMIZERS = ("sgd", "adam")


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite."""


def task_metrics(
    task: Task, classes: int, outputs: int, prefix: str
) -> torchmetrics.MetricCollection:
    """Accuracy for classification; MSE and R² for regression."""
    if task == "regression":
        metrics = {
            "mse": torchmetrics.MeanSquaredError(num_outputs=outputs),
            "r2": torchmetrics.R2Score(multioutput="uniform_average"),
        }
    elif task == "binary":
        metrics = {"acc": torchmetrics.Accuracy(task="binary")}
    else:
        metrics = {"acc": torchmetrics.Accuracy(task="multiclass", num_classes=classes)}
    return torchmetrics.MetricCollection(metrics, prefix=prefix)


class NNKitModule(pl.LightningModule):
    """Trains ``net`` on ``loss`` for a ``task``; ``sizes`` is (classes, outputs) of the data;
    ``hparams`` (plain data) go into checkpoints."""

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        task: Task,
        sizes: tuple[int, int],
        optimizer: dict[str, Any],
        hparams: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.save_hyperparameters(hparams or {})
        self.net, self.loss, self.task, self.optimizer_cfg = net, loss, task, optimizer
        squash = build_activation("sigmoid", getattr(loss, "backend", "nnkit"))
        self.prepare = loss_inputs(
            task, getattr(loss, "inputs", "values"), getattr(loss, "targets", "dense"), squash
        )
        classes, outputs = sizes
        self.train_metrics = task_metrics(task, classes, outputs, "train/")
        self.val_metrics = task_metrics(task, classes, outputs, "val/")
        self.test_metrics = task_metrics(task, classes, outputs, "test/")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def objective(self, outputs: Tensor, y: Tensor) -> Tensor:
        return self.loss(*self.prepare(outputs, y))

    def _metric_target(self, y: Tensor) -> Tensor:
        return y.long() if self.task == "binary" else y

    def training_step(self, batches: list[tuple[Tensor, Tensor]], batch_idx: int) -> None:
        optimizer = self.optimizers()
        losses, preds, targets = [], [], []
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            outputs = self.net(x)
            loss = self.objective(outputs, y)
            self.manual_backward(loss)
            optimizer.step()
            losses.append(loss.detach())
            preds.append(predictions(self.task, outputs.detach()))
            targets.append(y)
        losses_t = torch.stack(losses)  # (steps,)
        self._stop_if_diverged(losses_t)
        size = sum(len(y) for y in targets)
        self.log("train/loss", losses_t.mean(), on_step=True, on_epoch=True, batch_size=size)
        metrics = self.train_metrics
        metrics.update(torch.cat(preds), self._metric_target(torch.cat(targets)))
        self.log_dict(metrics, on_step=False, on_epoch=True)

    def _stop_if_diverged(self, losses: Tensor) -> None:
        finite = torch.isfinite(losses)
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        step = self.global_step - len(losses) + first + 1
        lr = self.optimizer_cfg.get("lr")
        raise DivergenceError(
            f"training diverged: the loss became {float(losses[first])} at optimizer step {step} "
            f"(epoch {self.current_epoch}); the learning rate (optimizer.lr={lr}) is likely "
            f"too large — try a smaller one"
        )

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        x, y = batch
        outputs = self.net(x)
        sync = self.trainer.world_size > 1
        self.log(f"{stage}/loss", self.objective(outputs, y), batch_size=len(x), sync_dist=sync)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(predictions(self.task, outputs), self._metric_target(y))
        self.log_dict(metrics, on_step=False, on_epoch=True)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_train_epoch_end(self) -> None:
        lr = self.optimizers().param_groups[0]["lr"]
        self.log("train/lr", lr, on_epoch=True, on_step=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        cfg = dict(self.optimizer_cfg)
        name = cfg.pop("name")
        params = self.net.parameters()
        if name == "sgd":
            return torch.optim.SGD(
                params,
                lr=cfg["lr"],
                momentum=cfg.get("momentum", 0.0),
                weight_decay=cfg.get("weight_decay", 0.0),
            )
        if name == "adam":
            return torch.optim.Adam(
                params,
                lr=cfg["lr"],
                betas=tuple(cfg.get("betas", (0.9, 0.999))),
                weight_decay=cfg.get("weight_decay", 0.0),
                fused=cfg.get("fused", True),
            )
        raise ValueError(f"unknown optimizer '{name}' (choose from: {', '.join(OPTIMIZERS)})")

"""The training engine: one network's step, chosen once and run for many minibatches, with no
Lightning in it. ``nnkit.train``'s LightningModule and the playground's session both train
through it, so a run and the page's replay of it are the same code.

The engine builds the optimizer, owns the weight penalty, chooses how the step runs — nnkit's
native program, the hand-derived whole-network step compiled by torch.compile or run directly,
or torch's autograd — and says why (``path``, ``reason``); ``train`` takes a training call of
many minibatches (``train_rows``: a data epoch's rows as they lie), ``evaluate`` the loss of a
split.

>>> from nnkit.losses import build_loss
>>> from nnkit.models import MLP
>>> net = MLP(2, 1, hidden=[3], activation="tanh")
>>> engine = Engine(net, build_loss("mse"), "binary", 1, {"name": "sgd", "lr": 0.1})
>>> engine.start(setting="false")
>>> engine.path, engine.reason
('direct', 'trainer.compile=false')
>>> x, y = torch.randn(8, 2), torch.ones(8, 1)
>>> call = engine.train([(x[:4], y[:4]), (x[4:], y[4:])])
>>> call.losses.shape, call.steps
(torch.Size([2]), 2)
>>> engine.train_rows(x, y, torch.tensor([0, 4, 8])).losses.shape  # the same, as rows
torch.Size([2])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.data.task import TASKS, loss_feed, loss_inputs
from nnkit.maths.extras import evaluating
from nnkit.maths.network import direct_backprop, network_loss_grads, network_output
from nnkit.maths.regularization import Regularization
from nnkit.maths.stack import Stack
from nnkit.optimizers import build_optimizer
from nnkit.training.compiled import CompiledStep, compile_mode
from nnkit.training.direct_update import WeightUpdates
from nnkit.training.native_steps import NativeCalls, plan_native, widths_of
from nnkit.training.schedule import Schedule
from nnkit.training.task_metrics import replica_columns

Batches = list[tuple[Tensor, Tensor]]
AUTO_REASONS = {
    "native": "the native program is estimated faster for these widths and this batch size",
    "inductor": "torch.compile repays its compilation over this run's steps",
    "direct": "torch's own kernels are faster at this size",
}
Backward = Callable[[Tensor], None]  # what differentiates the loss (torch's, or Lightning's)


@dataclass
class Call:
    """One training call's results: each minibatch's loss (the mean over replicas), the raw
    outputs (the batches' rows in order) and how many steps took the plain path (every one,
    except on a path that counts its own steps: Lightning's)."""

    losses: Tensor
    outputs: Tensor
    steps: int


class Engine:
    """Trains ``net`` on ``loss`` for ``task`` (``outputs``: the data's output width) with the
    optimizer ``optimizer`` describes (``{"name": ..., "lr": ...}``), ``regularization`` and
    the learning-rate schedule ``scheduler`` describes (``{"name": "cosine", ...}``; None:
    none) for a run of ``length`` (data epochs, optimizer steps). ``start`` chooses the step;
    ``train`` runs training calls."""

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        task: str,
        outputs: int,
        optimizer: dict[str, Any],
        regularization: Regularization | None = None,
        scheduler: dict[str, Any] | None = None,
        length: tuple[int, int] = (0, 0),
    ) -> None:
        self.net: Any = net  # an MLP (network_params, expand, pairs), or a plugin's model
        self.loss, self.task, self.outputs = loss, TASKS[task], outputs
        self.regularization = regularization or Regularization()
        settings = dict(optimizer)
        self.optimizer = build_optimizer(settings.pop("name"), net.parameters(), **settings)
        self.schedule = Schedule.build(scheduler, self.optimizer, *length)
        self.feed = loss_feed(task, loss)
        self.prepare = loss_inputs(task, loss)
        self.replicas: int = getattr(net, "replicas", 1)
        if self.replicas > 1:  # each replica's own loss, summed: a built-in loss with "sum"
            self.summed_loss = type(loss)(reduction="sum", backend=loss.backend)
        self.along = 1 if self.replicas > 1 else 0  # the batch dimension
        self.direct = direct_backprop(net, loss, self.feed.squash)
        self.path, self.reason = "autograd", ""  # chosen by start()
        self.native: NativeCalls | None = None
        self.last: tuple[Sequence[Tensor], Sequence[Tensor]] = ([], [])  # last step's grads
        self._grads: Any = network_loss_grads
        self._backward: Backward | None = None
        self._stepper: Any = None

    # --- the choice -------------------------------------------------------------------------
    def start(
        self,
        setting: Any = "auto",
        planned_steps: int = 0,
        batch_size: int = 0,
        lightning: tuple[Backward, Any] | None = None,
    ) -> None:
        """Choose the step for ``trainer.compile=setting`` on the weights' device, for a run of
        ``planned_steps`` minibatches of ``batch_size``; ``lightning`` (its backward and its
        optimizer) where only Lightning can step (mixed precision, DDP)."""
        self.native, self._grads = None, network_loss_grads
        if lightning is not None:
            self._backward, self._stepper = lightning
            self.path, self.reason = "lightning", "the precision or strategy needs Lightning"
            return
        if self.direct is None:
            self.path = "autograd"
            self.reason = "a part of the network brings no hand-derived pair"
            return
        params = self.net.network_params()
        choice, batch = str(setting).lower(), batch_size or 1  # YAML's booleans as words
        mode = compile_mode(choice, params[0].device, planned_steps, widths_of(params), batch)
        self.path, self.reason, problem = "direct", f"trainer.compile={choice}", ""
        if mode == "inductor" and getattr(self.net, "extras", None) is not None:
            problem = (
                f"trainer.compile={choice}: torch.compile does not take the hidden layers' "
                "normalization, dropout or residual connections; the step runs directly"
            )
        elif mode == "inductor":
            self.path, self._grads = "inductor", CompiledStep(network_loss_grads)
        elif mode == "native":
            self.native, problem = self._plan_native(params, choice)
            self.path = "native" if self.native is not None else "direct"
        if problem:
            self.reason = problem
        elif choice == "auto":
            self.reason += f": {AUTO_REASONS[self.path]}"

    def _plan_native(self, params: list[Tensor], choice: str) -> tuple[NativeCalls | None, str]:
        """The native program's training calls, or None and why it cannot run them."""
        assert self.direct is not None
        penalty = (self.regularization.kind, self.regularization.rate)
        extras = getattr(self.net, "extras", None)
        layout = extras.layout() if extras is not None else None
        plan = plan_native(
            self.direct, params, self.optimizer, self.replicas, choice, penalty, layout
        )
        if isinstance(plan, str):
            return None, f"trainer.compile={choice}, but {plan}"
        native_params = getattr(self.net, "native_params", self.net.network_params)
        rates = self.schedule.step_rates
        calls = NativeCalls(plan, native_params, self.targets, self.along, rates, extras)
        return calls, ""

    def describe(self) -> str:
        """How the step computes its gradients, in words (the run's summary line says it)."""
        if self.path in ("autograd", "lightning"):
            return getattr(self.net, "backprop", "torch autograd")
        compiled = getattr(self._grads, "compiled", 0)
        how = (
            "run by nnkit's native program (nnkit.native)"
            if self.path == "native"
            else ("compiled by torch.compile" if compiled else "run directly")
        )
        together = f"; {self.replicas} replicas as one program" if self.replicas > 1 else ""
        return f"whole network, hand-derived (nnkit.maths.network), {how} in each step{together}"

    # --- training ---------------------------------------------------------------------------
    def train(self, batches: Batches) -> Call:
        """One training call: an optimizer step per minibatch, in order."""
        if self.direct is not None and self.path != "lightning":
            expand = self.net.expand
            batches = [(expand(x), y) for x, y in batches]  # the hand-derived steps' inputs
        updates = WeightUpdates(self.optimizer)  # per call: a loaded checkpoint swaps state
        if self.native is not None:
            call = self.native(self.optimizer, batches, lambda _, x, y: self._direct(updates, x, y))
            if call.native_steps:
                self.last = call.last
            losses, outputs = call.losses, call.outputs
        else:
            step = {"autograd": self._autograd, "lightning": self._lightning}.get(
                self.path, self._direct
            )
            results = [step(updates, x, y) for x, y in batches]
            losses = torch.stack([loss.detach() for _, loss in results])
            outputs = torch.cat([out.detach() for out, _ in results], dim=self.along)
        plain = 0 if self.path == "lightning" else len(batches)
        return Call(losses / self.replicas, outputs, plain)

    def train_rows(self, x: Tensor, y: Tensor, offsets: Tensor) -> Call:
        """One training call over the minibatches ``x[offsets[i]:offsets[i+1]]`` (a data
        epoch's rows, already in their order): the native program takes them as they lie;
        every other path as ``train`` takes them cut apart."""
        if self.native is None:
            bounds = offsets.tolist()
            return self.train([(x[a:b], y[a:b]) for a, b in itertools.pairwise(bounds)])
        updates = WeightUpdates(self.optimizer)
        first = lambda _, xs, ys: self._direct(updates, xs, ys)  # noqa: E731
        call = self.native.rows(self.optimizer, self.net.expand(x), y, offsets, first)
        if call.native_steps:
            self.last = call.last
        return Call(call.losses / self.replicas, call.outputs, offsets.numel() - 1)

    def _direct(self, updates: WeightUpdates, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One minibatch by the article's backpropagation itself: forward keeping every
        layer's values, the error walked back to every weight, the corrections handed to the
        optimizer — the same functions as the network's autograd Function, without a graph."""
        assert self.direct is not None
        pairs, loss_pair, squash = self.direct
        params, stack = self.net.network_params(), self.stack(x, training=True)
        target = self.targets(y, x.dtype)
        loss, outputs, grads = self._grads(
            x, target, pairs, params, loss_pair, squash, self.regularization, stack
        )
        if stack is not None:
            params = [*params, *stack.norm_params]
        updates(params, grads)
        self.schedule.step_taken()
        self.last = (params, grads)
        return outputs, loss

    def _autograd(self, updates: WeightUpdates, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One minibatch in full precision through torch's autograd: the optimizer's update
        from the gradients (``WeightUpdates``: its kernel called directly, bit for bit
        ``step()``)."""
        self.optimizer.zero_grad(set_to_none=True)
        outputs = self.net(x)
        loss = self.objective(outputs, y)
        self.with_penalty(loss).backward()  # .grad in each weight's own layout, as kernels need
        params = [p for p in self.net.parameters() if p.grad is not None]
        grads = [p.grad for p in params]
        updates(params, grads)
        self.schedule.step_taken()
        self.last = (params, grads)
        return outputs, loss

    def _lightning(self, updates: WeightUpdates, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One minibatch through Lightning, for precisions and strategies that need its
        scaler and hooks: its backward, its optimizer's step."""
        assert self._backward is not None
        self._stepper.zero_grad(set_to_none=True)
        outputs = self.net(x)
        loss = self.objective(outputs, y)
        self._backward(self.with_penalty(loss))
        self._stepper.step()
        self.schedule.step_taken()
        return outputs, loss

    def stack(self, x: Tensor, training: bool) -> Stack | None:
        """The network's normalization, dropout and residual connections for a pass over
        ``x`` (``MLP.stack``), or None where it has none."""
        stack = getattr(self.net, "stack", None)
        return stack(x, training) if stack is not None else None

    # --- the cost ---------------------------------------------------------------------------
    def targets(self, y: Tensor, dtype: torch.dtype) -> Tensor:
        """The loss's targets for the labels ``y`` (one-hot rows, class indices, values)."""
        return self.feed.targets(y, self.outputs, dtype)

    def objective(self, outputs: Tensor, y: Tensor) -> Tensor:
        """The data's cost; with replicas, the sum of every replica's own loss (so each
        replica's gradient is its single run's), from the loss's ``sum`` and each one's count."""
        if self.replicas == 1:
            return self.loss(*self.prepare(outputs, y))
        values, targets = self.prepare(outputs, self.per_replica(y, outputs))
        summed = self.summed_loss(values, targets)
        if self.loss.reduction != "mean":
            return summed
        counted = values if getattr(self.loss, "targets", "dense") == "dense" else targets
        return summed / (counted.numel() // self.replicas)

    def per_replica(self, y: Tensor, outputs: Tensor) -> Tensor:
        """Targets with the replica dimension (evaluation shares one batch among replicas):
        class indices have one dimension fewer than the outputs, other targets as many."""
        full = outputs.dim() - (1 if self.task.name == "multiclass" else 0)
        return y.expand(self.replicas, *y.shape) if y.dim() < full else y

    def weights(self) -> list[Tensor]:
        """The tensors the weight penalty reaches: every layer's weights, not the biases."""
        params = getattr(self.net, "network_params", None)
        if params is not None:
            return params()[0::2]
        return [p for name, p in self.net.named_parameters() if name.endswith("weight")]

    def with_penalty(self, loss: Tensor) -> Tensor:
        """The data's cost plus the regularization's penalty of the weights (what the autograd
        steps differentiate; the cost reported is the data's alone, as in evaluation)."""
        if not self.regularization.active:
            return loss
        return loss + self.regularization.cost(self.weights())

    # --- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def forward(self, x: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """The network's outputs for ``x`` (``(R, N, out)`` with replicas, every replica on the
        same points), from ``params`` where given (a copy, read while training goes on) and the
        network has hand-derived pairs, else by the network itself."""
        if params is None or self.direct is None:
            with evaluating(self.net):
                return self.net(x)
        if self.replicas > 1:
            x = x.unsqueeze(0).expand(self.replicas, -1, -1)
        x = self.net.expand(x)
        return network_output(x, self.direct[0], list(params), self.stack(x, training=False))

    @torch.no_grad()
    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """A split's (or a batch's) outputs and its cost: the mean over replicas (the network
        in evaluation mode: no dropout, batch normalization's running statistics)."""
        with evaluating(self.net):
            outputs = self.net(x)
        return outputs, self.objective(outputs, y) / self.replicas

    def replica_costs(self, outputs: Tensor, y: Tensor) -> list[float]:
        """Each replica's own cost of ``outputs`` (``(R, N, out)``, or one network's)."""
        each = outputs if self.replicas > 1 else outputs.unsqueeze(0)
        return [float(self.loss(*self.prepare(o, y))) for o in each]

    def metric_inputs(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """What the task's torchmetrics take: predictions and targets (per replica, in
        ``replica_columns`` for a regression)."""
        preds = self.task.predict(outputs)
        target = y.long() if self.task.integer_targets else y
        if self.replicas > 1 and target.dim() < preds.dim():
            target = target.expand(self.replicas, *target.shape)
        if self.replicas > 1 and not self.task.integer_targets:
            return replica_columns(preds), replica_columns(target)
        return preds, target

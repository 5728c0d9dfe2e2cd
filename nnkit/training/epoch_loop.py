"""The epoch loop in the engine: whole data epochs — the epoch's training call, its validation
and its metrics — one after another, with no Lightning in it.

Lightning's own loop pays some ten milliseconds of hooks, validation loop and logging for every
epoch, which on the Playground's problem is some fifty times the epoch's training. Through
``trainer.epoch_loop=engine`` (what ``auto`` chooses where that pays) one Lightning call runs
many data epochs through this loop; ``nnkit.training.lightning_module`` writes each one's
metrics to the loggers and keeps best.ckpt and early stopping counted in data epochs
(``Watch``), so nothing a run reports changes but its speed.

>>> from nnkit.losses import build_loss
>>> from nnkit.models import MLP
>>> from nnkit.training.engine import Engine
>>> engine = Engine(MLP(2, 1, hidden=[3]), build_loss("mse"), "binary", 1,
...                 {"name": "sgd", "lr": 0.1})
>>> engine.start(setting="false")
>>> x, y = torch.randn(20, 2), (torch.rand(20, 1) > 0.5).float()
>>> loop = EpochLoop(engine, (x, y), (x, y), batch_size=8, seed=0)
>>> loop.steps_per_epoch
3
>>> sorted(loop.epoch(0).values)
['train/acc', 'train/loss', 'train/lr', 'val/acc', 'val/loss']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from nnkit.data.shuffle import EpochShuffle
from nnkit.native.epochs import EpochsResult, kept_values, run_epochs, state_tensors
from nnkit.native.program import NativeSteps
from nnkit.training.engine import Engine
from nnkit.training.epoch_metrics import split_metrics
from nnkit.training.schedule import EpochPlan
from nnkit.training.snapshot import Snapshot, live_state
from nnkit.training.split_evaluation import evaluate_split, native_bound

Split = tuple[Tensor, Tensor]
MAX_KEPT = 2**22  # the most values one call of the native program keeps (outputs, states)


@dataclass
class Epoch:
    """One data epoch's results: its metrics as plain numbers (``train/loss``, ``val/acc``,
    ...; validation's only where it was due), each step's cost, their plain mean and whether
    all are finite, and — from the native program's several epochs at once — the state after
    it."""

    values: dict[str, float]
    losses: Tensor
    step_loss: float  # the steps' costs' plain mean (``train/loss_step``)
    finite: bool
    kept: Tensor | None = None  # the native program's copy of the state after it
    adam_steps: float = 0.0  # Adam's step count after it
    schedule_state: dict[str, Any] | None = None  # the schedule's, after it (with ``kept``)
    counters: list[int] | None = None  # the network's step counters after it (with ``kept``)

    @classmethod
    def of(cls, values: dict[str, float], losses: Tensor) -> Epoch:
        """An epoch trained outside the native program's several-epoch call."""
        return cls(values, losses, float(losses.mean()), bool(losses.isfinite().all()))

    @property
    def steps(self) -> int:
        """The optimizer steps it took."""
        return self.losses.numel()


class EpochLoop:
    """Data epochs of ``engine`` over the ``train`` split, in minibatches of ``batch_size``
    shuffled per epoch exactly as ``nnkit.data.datamodule.TensorBatches`` shuffles them
    (``seed``), validated on ``val`` every ``validate_every`` epochs (``eval_rows`` at a time;
    0: the whole split)."""

    def __init__(
        self,
        engine: Engine,
        train: Split,
        val: Split,
        batch_size: int,
        seed: int,
        validate_every: int = 1,
        eval_rows: int = 0,
    ) -> None:
        self.engine, self.train, self.val = engine, train, val
        self.shuffle = EpochShuffle(seed)
        self.validate_every, self.eval_rows = validate_every, eval_rows
        rows = len(train[0])
        starts = list(range(0, rows, batch_size))
        self.offsets = torch.tensor([*starts, rows], dtype=torch.int64)
        self.sizes = (self.offsets[1:] - self.offsets[:-1]).to(torch.float64)
        self._bound: NativeSteps | None = None  # the program of the latest epochs() call
        self._splits: tuple[Split, Split] | None = None  # as the native program takes them

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps (minibatches) in one data epoch."""
        return self.offsets.numel() - 1

    def epoch(self, epoch: int, steps: int = 0) -> Epoch:
        """Data epoch ``epoch`` (counted from 0): its first ``steps`` minibatches (0: all),
        then validation if it is due after this epoch."""
        x, y = self.train
        order = self.shuffle.permutation(len(x), x.device, epoch)
        offsets = self.offsets[: steps + 1] if steps else self.offsets
        rows = int(offsets[-1])
        x, y = x[order[:rows]], y[order[:rows]]
        schedule = self.engine.schedule
        values = {"train/lr": schedule.lr}
        call = self.engine.train_rows(x, y, offsets)
        sizes = self.sizes[: offsets.numel() - 1].to(call.losses.device)
        loss = (call.losses.to(torch.float64) * sizes).sum() / sizes.sum()
        values["train/loss"] = float(loss)
        values.update(self._metrics("train/", call.outputs.unsqueeze(0), y.unsqueeze(0))[0])
        if (epoch + 1) % self.validate_every == 0:
            values.update(self.validate())
        if not steps:
            schedule.epoch_ended(values)
        return Epoch.of(values, call.losses)

    def validate(self) -> dict[str, float]:
        """The validation split's loss and metrics."""
        x, y = self.val
        outputs, loss = evaluate_split(self.engine, x, y, self.eval_rows)
        metrics = self._metrics("val/", outputs.unsqueeze(0), y.unsqueeze(0))[0]
        return {"val/loss": float(loss), **metrics}

    def epochs(self, start: int, count: int, stop_fd: int = -1) -> list[Epoch] | None:
        """Whole data epochs ``start, ..., start + count - 1`` (fewer where their results would
        not fit in ``MAX_KEPT`` values, or where a byte became readable on ``stop_fd``: the
        call ends after the epoch under way) in one call of the native program, each with the
        state after it; None where the program does not run them (not the native path, the
        optimizer's state not made yet, a validation cost summed over parts)."""
        steps = native_bound(self.engine)
        if steps is None or (self.eval_rows and self.eval_rows < len(self.val[0])):
            return None
        x, val_x = self.train[0], self.val[0]
        state = sum(t.numel() for t in (*state_tensors(steps), *steps.grads))
        per_epoch = (len(x) + len(val_x)) * self.engine.outputs + state
        count = max(1, min(count, MAX_KEPT // per_epoch))
        lr, plan = self.engine.schedule.lr, self.engine.schedule.plan(count, self.steps_per_epoch)
        rows, device, shuffle = len(x), x.device, self.shuffle
        orders = [shuffle.permutation(rows, device, start + k) for k in range(plan.count)]
        train, val = self._native_splits(steps.program.dtype)
        counters = self._counters()
        before = [int(counter) for counter in counters]
        masks = self._masks(train[0], orders)
        found = run_epochs(
            steps, torch.stack(orders), train, val, self.offsets, stop_fd, plan.rates, masks
        )
        self.engine.last, self._bound = (steps.trainable, steps.grads), steps
        done, adam = len(found.losses), float(steps.steps[0]) if steps.steps else 0.0
        if plan.states is not None and done < plan.count:
            self.engine.schedule.load(plan.states[done - 1])
        epochs = self._results(start, torch.stack(orders[:done]), found, self._rates(plan, lr))
        for counter, start_at in zip(counters, before, strict=True):
            counter.fill_(start_at + done * self.steps_per_epoch)  # as many as the steps run
        for k, epoch in enumerate(epochs):
            epoch.counters = [b + (k + 1) * self.steps_per_epoch for b in before]
            epoch.adam_steps = adam - (done - k - 1) * self.steps_per_epoch
            epoch.schedule_state = plan.states[k] if plan.states is not None else None
        if self.engine.schedule.watches:
            self.engine.schedule.epoch_ended(epochs[0].values)
            epochs[0].schedule_state = self.engine.schedule.state()
        return epochs

    def _counters(self) -> list[Tensor]:
        """The network's counters of training steps (``Extras.counters``)."""
        extras = getattr(self.engine.net, "extras", None)
        return extras.counters() if extras is not None else []

    def _masks(self, x: Tensor, orders: list[Tensor]) -> Tensor | None:
        """Every step's dropout masks for the epochs of ``orders`` (None: no dropout)."""
        native = self.engine.native
        if native is None or not native.program.dropout:
            return None
        masks = [native.masks(x, self.offsets) for _ in orders]
        return torch.stack([m for m in masks if m is not None])

    def _rates(self, plan: EpochPlan, lr: float) -> list[float]:
        """The rate each epoch of ``plan`` starts at (``lr``: the optimizer's, before it)."""
        if plan.rates is None:
            return [lr] * plan.count
        return plan.rates[:: self.steps_per_epoch].tolist()

    def _native_splits(self, dtype: torch.dtype) -> tuple[Split, Split]:
        """The splits as the native program takes them: the first layer's inputs, the loss's
        targets (made once)."""
        if self._splits is None:
            net, engine = self.engine.net, self.engine
            self._splits = tuple(  # type: ignore[assignment]
                (net.expand(x), engine.targets(y, dtype)) for x, y in (self.train, self.val)
            )
        assert self._splits is not None
        return self._splits

    def _results(
        self, start: int, orders: Tensor, found: EpochsResult, rates: list[float]
    ) -> list[Epoch]:
        """The epochs of one call of the native program, their metrics computed together."""
        count, y, val_y = len(orders), self.train[1], self.val[1]
        sizes = self.sizes.to(found.losses.dtype)
        losses = ((found.losses * sizes).sum(1) / sizes.sum()).tolist()
        trained = self._metrics("train/", found.outputs, y[orders])
        validated = self._metrics("val/", found.val_outputs, val_y.expand(count, *val_y.shape))
        val_costs = found.val_costs.tolist()
        step_losses = found.losses.mean(1).tolist()
        finite = found.losses.isfinite().all(1).tolist()
        each_losses, each_kept = found.losses.unbind(0), found.kept.unbind(0)
        done = []
        for k in range(count):
            values = {"train/lr": rates[k], "train/loss": losses[k], **trained[k]}
            if (start + k + 1) % self.validate_every == 0:
                values.update({"val/loss": val_costs[k], **validated[k]})
            done.append(Epoch(values, each_losses[k], step_losses[k], finite[k], each_kept[k]))
        return done

    def state_after(self, epoch: Epoch) -> Snapshot:
        """The run's state after ``epoch``: as the native program kept it, or as it is now."""
        steps, schedule = self._bound, self.engine.schedule
        if epoch.kept is None or steps is None:
            return Snapshot.of(live_state(self.engine), schedule)
        values = kept_values(steps, epoch.kept.clone())
        values += [torch.full_like(t, epoch.adam_steps) for t in steps.steps]
        counters = self._counters()
        values += [torch.full_like(t, n) for t, n in zip(counters, epoch.counters or [])]
        targets = state_tensors(steps) + steps.steps + counters[: len(epoch.counters or [])]
        return Snapshot(targets, values, schedule, epoch.schedule_state)

    def grad_norms(self, epochs: list[Epoch]) -> list[dict[str, float]] | None:
        """Each weight's and bias's gradient norm at the last step of each of ``epochs``, as
        the native program kept them, named ``grad_norm/<parameter>``; None where it kept none
        (the engine's latest gradients then serve)."""
        steps = self._bound
        if steps is None or any(epoch.kept is None for epoch in epochs):
            return None
        if not epochs:
            return []
        names = {id(p): f"grad_norm/{name}" for name, p in self.engine.net.named_parameters()}
        begin = sum(t.numel() for t in state_tensors(steps))
        rows = torch.stack([epoch.kept for epoch in epochs if epoch.kept is not None])
        columns = rows[:, begin:].split([p.numel() for p in steps.trainable], dim=1)
        norms = torch.stack([column.norm(dim=1) for column in columns], dim=1).tolist()
        keys = [names[id(p)] for p in steps.trainable]
        return [dict(zip(keys, row, strict=True)) for row in norms]

    def _metrics(self, prefix: str, outputs: Tensor, y: Tensor) -> list[dict[str, float]]:
        """Each epoch's metrics, from ``(K, N, out)`` outputs and ``(K, N, ...)`` labels."""
        engine = self.engine
        preds, target = engine.metric_inputs(outputs.detach(), y)
        found = split_metrics(engine.task.name, preds, target)
        columns = {prefix + name: value.tolist() for name, value in found.items()}
        return [{k: v[i] for k, v in columns.items()} for i in range(len(outputs))]


@dataclass
class Watch:
    """The objective over data epochs: Lightning's ``ModelCheckpoint`` rule for best.ckpt
    (the first value, then each strictly better one) and its ``EarlyStopping`` rule (stop
    after ``patience`` validations without a better finite value, or at a value that is not
    finite; 0: never). Its state goes into last.ckpt, so a resumed run counts on exactly.

    >>> watch = Watch("val/acc", "max", patience=2)
    >>> [watch.update(v, epoch) for epoch, v in enumerate([0.5, 0.7, 0.6, 0.7])]
    [True, True, False, False]
    >>> watch.stopped, watch.best, watch.best_epoch
    (True, 0.7, 1)
    """

    monitor: str
    mode: str
    patience: int = 0
    best: float | None = None
    best_epoch: int = -1
    wait: int = 0
    stopped: bool = False
    KEYS: ClassVar[tuple[str, ...]] = ("best", "best_epoch", "wait", "stopped")

    def better(self, value: float) -> bool:
        """Whether ``value`` would be the new best."""
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def update(self, value: float, epoch: int) -> bool:
        """Take one validation's objective; whether it is the new best."""
        improved = self.better(value)
        finite_gain = improved and math.isfinite(value)
        if improved:
            self.best, self.best_epoch = value, epoch
        self.wait = 0 if finite_gain else self.wait + 1
        if self.patience and (self.wait >= self.patience or not math.isfinite(value)):
            self.stopped = True
        return improved

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it."""
        return {key: getattr(self, key) for key in self.KEYS}

    def load(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``state()``."""
        for key in self.KEYS:
            if key in state:
                setattr(self, key, state[key])

"""One page's training: the run ``nnkit.train`` would make of the same settings, trained epoch
by epoch on demand (what the page draws of it: ``nnkit.playground.pictures``).

The run is composed and prepared by nnkit's own config path (``compose``, ``prepare``: the
same schema, the same one-line errors) and trained by nnkit's training engine
(``nnkit.training.engine``), the one ``nnkit.train`` runs, with ``trainer.compile=auto``'s
choice of step. Training and every change hold ``lock``; a frame holds it
only for a snapshot (``nnkit.playground.pictures``) and is drawn while training goes on.
With ``trainer.replicas=N`` it trains N seeds at once, as ``nnkit.train`` does, and ranks
them by their test points.

>>> session = Session(["data=circular", "data.n=100", "model.hidden=[3]"])
>>> session.train_epochs(2)
>>> session.epoch
2
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import open_dict
from torch import Tensor

from nnkit.config.compose import compose
from nnkit.config.prepare import prepare
from nnkit.data.shuffle import EpochShuffle, ReplicaShuffle
from nnkit.data.task import predictions
from nnkit.errors import ConfigError
from nnkit.maths.regularization import Regularization
from nnkit.training.divergence import check_losses
from nnkit.training.engine import Engine

LOSS_POINTS = 1000  # the points a frame's losses are computed on, of each split


class Session:
    """A run built from ``overrides`` (``nnkit.train``'s syntax), trained on demand."""

    def __init__(self, overrides: Sequence[str]) -> None:
        self.overrides = list(overrides)
        self.cfg = cfg = compose(self.overrides)
        with open_dict(cfg):
            del cfg["hydra"]
        self.prepared = prepared = prepare(cfg, Path.cwd())
        self.config, self.data = prepared.config, prepared.data
        self.net: Any = prepared.net  # an MLP (network_params, expand), or a plugin's model
        self.task = self.data.task
        reg, epochs = self.config["regularization"], int(self.config["trainer"]["max_epochs"])
        self.engine = Engine(
            self.net, prepared.loss, self.task, self.data.out_features,
            self.config["optimizer"], Regularization(reg["kind"], reg["rate"]),
            self.config.get("scheduler"), (epochs, epochs * self.batches_per_epoch),
        )  # fmt: skip
        self.engine.start("auto", batch_size=self._batch_size())  # nnkit.train's choice
        self.replicas, self.optimizer = self.engine.replicas, self.engine.optimizer
        self.direct, self.feed = self.engine.direct, self.engine.feed
        seed = int(self.config["seed"])  # nnkit.train's order, epoch by epoch, replica by replica
        self.shuffle = (
            ReplicaShuffle(seed, self.replicas) if self.replicas > 1 else EpochShuffle(seed)
        )
        self.shown = 0  # the replica the page draws: the best by the test points
        self.scores: list[tuple[float, float]] = []  # each replica's (test accuracy, test loss)
        self.epoch, self.steps = 0, 0
        self.altered: str | None = None  # what the command line cannot replay, once it happened
        self.changes = 0  # counts every change a frame shows: steps, a new lr, a typed weight
        self._pending: list[Tensor] = []  # the current epoch's minibatches still to train
        # data that is not a plane: the input the page sets (a test point first), shown live
        self.probe_input: list[float] | None = None
        if self.data.in_features != 2:
            self.probe_input = self.data.test[0][0].tolist()
        self.lock = threading.Lock()

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Stand where ``checkpoint`` (a run of these settings) stands: its weights, its
        optimizer's state, its epochs and steps; the next minibatch is the one its own
        ``nnkit.train`` resume would take."""
        state = {k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items()}
        self.net.load_state_dict(state)
        if checkpoint.get("optimizer_states"):  # a static page's export has none: a new start
            self.optimizer.load_state_dict(checkpoint["optimizer_states"][0])
        scheduler = self.engine.schedule.scheduler
        if scheduler is not None and checkpoint.get("lr_schedulers"):
            scheduler.load_state_dict(checkpoint["lr_schedulers"][0])
        self.steps = int(checkpoint.get("global_step", 0))
        self.epoch, taken = divmod(self.steps, self.batches_per_epoch)
        self._pending = self._epoch_batches()[taken:] if taken else []
        self.changes += 1

    def _epoch_batches(self) -> list[Tensor]:
        """The current epoch's minibatches, as index tensors (``(R, batch)`` with replicas):
        nnkit.train's order."""
        n = len(self.data.train[0])
        order = self.shuffle.permutation(n, torch.device("cpu"), self.epoch)  # (n,) or (R, n)
        return list(order.split(self._batch_size(), dim=-1))

    def _batch_size(self) -> int:
        return int(self.config["data"]["batch_size"]) or len(self.data.train[0])

    @property
    def batches_per_epoch(self) -> int:
        """The optimizer steps of one epoch."""
        return -(-len(self.data.train[0]) // self._batch_size())

    @property
    def how(self) -> str:
        """How this session trains, in words."""
        return {
            "native": "nnkit's native program",
            "autograd": "torch autograd",
        }.get(self.engine.path, "the hand-derived whole-network step")

    def set_lr(self, lr: float) -> None:
        """A new learning rate, from the next step on (no reset); under a schedule, its base
        rate: the schedule goes on from where it stands, scaled to it."""
        self.engine.schedule.rescale(lr)
        self.config["optimizer"]["lr"] = self.cfg.optimizer.lr = lr
        if self.steps:
            self.altered = self.altered or f"the learning rate changed at step {self.steps}"
        self.changes += 1

    def set_weight(self, layer: int, row: int, column: int, value: float) -> None:
        """A weight typed on the page (of the replica it shows), applied at once."""
        weight = self.net.network_params()[2 * layer]
        with torch.no_grad():
            (weight[self.shown] if self.replicas > 1 else weight)[row, column] = value
        self.altered = self.altered or f"a weight was typed at step {self.steps}"
        self.changes += 1

    def train_epochs(self, count: int = 1) -> None:
        """``count`` epochs: every training point once, in a new order each epoch, a step per
        minibatch. Raises ``DivergenceError`` (nnkit's line) when a loss is not finite."""
        target = self.epoch + count
        while self.epoch < target:
            self.advance(len(self.data.train[0]))

    @property
    def mid_epoch(self) -> bool:
        """Whether an epoch is under way (some of its minibatches trained, not all)."""
        return bool(self._pending)

    def finish_epoch(self) -> None:
        """The page's "step": the rest of the epoch under way, or a whole one."""
        self.advance(len(self._pending)) if self._pending else self.train_epochs(1)

    def advance(self, steps: int) -> None:
        """Up to ``steps`` more minibatches of the current epoch (a new epoch, in a new order,
        starts when one ends): what the server trains between two frames."""
        if not self._pending:
            self._pending = self._epoch_batches()
        taken, self._pending = self._pending[:steps], self._pending[steps:]
        x, y = self.data.train
        losses = self.engine.train([(x[i], y[i]) for i in taken]).losses
        self.steps += len(taken)
        self.changes += 1
        check_losses(losses, self.steps, self.epoch, self.optimizer.param_groups[0]["lr"])
        if not self._pending:
            self.epoch += 1
            self.engine.schedule.epoch_ended(
                self._validation() if self.engine.schedule.watches else {}
            )

    def _validation(self) -> dict[str, float]:
        """The validation split's loss (and accuracy): what ``plateau`` watches."""
        x, y = self.data.val
        outputs, loss = self.engine.evaluate(x, y)
        values = {"val/loss": float(loss)}
        if self.task != "regression" and self.replicas == 1:
            values["val/acc"] = self._accuracy(outputs, y)
        return values

    @property
    def last_grads(self) -> list[Tensor]:
        """The last step's gradients, ``W1, b1, ...`` (none before the first step; a
        normalization's γ and β after them are not the layers')."""
        layers = len(self.net.network_params()) if self.direct is not None else None
        return list(self.engine.last[1])[:layers]

    def set_probe(self, values: Any) -> None:
        """The input the page shows flowing through the network (a list of numbers)."""
        width = self.data.in_features
        if (
            not isinstance(values, list)
            or len(values) != width
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        ):
            raise ConfigError(f"an input is a list of {width} numbers, not {values!r}")
        self.probe_input = [float(v) for v in values]
        self.changes += 1

    def shown_net(self) -> Any:
        """The network the page draws: the one trained, or the best replica as an MLP."""
        return self.net.replica(self.shown) if self.replicas > 1 else self.net

    def shown_params(self, params: Sequence[Tensor] | None = None) -> list[Tensor]:
        """``W1, b1, ...`` of the network the page draws, of ``params`` (a copy of the
        network's) or of the network itself (views)."""
        params = [p.detach() for p in (params or self.net.network_params())]
        return [p[self.shown] for p in params] if self.replicas > 1 else params

    def outputs(self, x: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """The network's outputs for ``x`` (``(R, N, out)`` with replicas), from ``params``
        where given (a copy, read while training goes on): ``Engine.forward``."""
        return self.engine.forward(x, params)

    def gradient_norms(self) -> list[float]:
        """Each layer's weight-gradient norm at the last step, input layer first: the
        vanishing gradient, live (a deep sigmoid network's first layers fall by decades)."""
        return [float(g.norm()) for g in self.last_grads[0::2]]

    @torch.no_grad()
    def losses(self, params: Sequence[Tensor] | None = None) -> dict[str, float]:
        """The data's cost on the training and the test points (the Playground's two losses;
        on the first ``LOSS_POINTS`` of each, a sample of shuffled data, where there are more);
        with replicas, their mean, and ``scores`` and ``shown`` follow the test points."""
        out = {}
        for name, (x, y) in (("train", self.data.train), ("test", self.data.test)):
            x, y = x[:LOSS_POINTS], y[:LOSS_POINTS]
            outputs = self.outputs(x, params)
            each = outputs if self.replicas > 1 else outputs.unsqueeze(0)  # (R, N, out)
            costs = self.engine.replica_costs(outputs, y)
            out[name] = sum(costs) / len(costs)
            if name == "test":
                self.scores = [(self._accuracy(o, y), c) for o, c in zip(each, costs, strict=True)]
        self.shown = self._ranked()[-1]
        return out

    def _ranked(self) -> list[int]:
        """The replicas, worst first: by test accuracy, then by test loss."""
        return sorted(
            range(len(self.scores)), key=lambda r: (self.scores[r][0], -self.scores[r][1])
        )

    def _accuracy(self, outputs: Tensor, y: Tensor) -> float:
        if self.task == "regression":
            return 0.0
        return float((predictions(self.task, outputs).flatten() == y.flatten()).float().mean())

    def replica_summary(self) -> dict[str, Any] | None:
        """With replicas: how many solved the test points (all right; a regression: none),
        each one's test accuracy and loss, and which are the best and the worst."""
        if self.replicas == 1 or not self.scores:
            return None
        ranked = self._ranked()
        return {
            "count": self.replicas,
            "solved": sum(accuracy == 1.0 for accuracy, _ in self.scores),
            "accuracy": [a for a, _ in self.scores],
            "loss": [c for _, c in self.scores],
            "best": ranked[-1],
            "worst": ranked[0],
        }

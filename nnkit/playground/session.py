"""One page's training: the run ``nnkit.train`` would make of the same settings, trained epoch
by epoch on demand, and its picture (losses, weights, every unit over the plane) as a frame.

The run is composed and prepared by nnkit's own config path (``compose``, ``prepare``: the
same schema, the same one-line errors) and trained by nnkit's own step: the native program
where it runs (``trainer.compile=auto``'s choice), else the hand-derived whole-network step
with the optimizer's own update. A session is used from one thread at a time (the server's
training thread holds ``lock``).

>>> session = Session(["data=circular", "data.n=100", "model.hidden=[3]"])
>>> session.train_epochs(2)
>>> session.epoch
2
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import open_dict
from torch import Tensor

from nnkit.config.compose import compose
from nnkit.config.prepare import prepare
from nnkit.data.task import loss_feed, loss_inputs, predictions
from nnkit.maths.features import FEATURES
from nnkit.maths.network import direct_backprop, network_forward, network_loss_grads
from nnkit.maths.regularization import KINDS, Regularization
from nnkit.optimizers import build_optimizer
from nnkit.playground.settings import KEYS
from nnkit.training.direct_update import WeightUpdates
from nnkit.training.divergence import check_losses
from nnkit.training.native_steps import NativeCalls, plan_native

GRID = 40  # the pictures' resolution: GRID x GRID points over the data's square
SMALL_GRID, MANY_UNITS = 16, 48  # coarser pictures for networks of more units than that
DRAWN_POINTS = 1500  # the points a page draws, of each split
LOSS_POINTS = 1000  # the points a frame's losses are computed on, of each split


def choices() -> dict[str, list[str]]:
    """The names a page offers: every registered activation (plugins too), loss, optimizer."""
    from nnkit.activations import ACTIVATIONS
    from nnkit.losses import LOSSES
    from nnkit.optimizers import OPTIMIZERS

    return {
        "activations": ACTIVATIONS.names(),
        "losses": ["auto", *LOSSES.names()],
        "optimizers": OPTIMIZERS.names(),
        "features": list(FEATURES),
        "regularizations": list(KINDS),
    }


class Session:
    """A run built from ``overrides`` (``nnkit.train``'s syntax), trained on demand."""

    def __init__(self, overrides: Sequence[str]) -> None:
        self.overrides = list(overrides)
        cfg = compose(self.overrides)
        with open_dict(cfg):
            del cfg["hydra"]
        self.prepared = prepared = prepare(cfg, Path.cwd())
        self.config, self.data = prepared.config, prepared.data
        self.net: Any = prepared.net  # an MLP (network_params, expand), or a plugin's model
        self.task = self.data.task
        settings = dict(self.config["optimizer"])
        self.optimizer = build_optimizer(settings.pop("name"), self.net.parameters(), **settings)
        reg = self.config["regularization"]
        self.regularization = Regularization(reg["kind"], reg["rate"])
        self.feed = loss_feed(self.task, prepared.loss)
        self.prepare_loss = loss_inputs(self.task, prepared.loss)
        self.direct = direct_backprop(self.net, prepared.loss, self.feed.squash)
        self.native = self._native()
        self.generator = torch.Generator().manual_seed(int(self.config["seed"]))
        self.epoch, self.steps = 0, 0
        self.history: list[tuple[int, float, float]] = []  # (epoch, train loss, test loss)
        self.changes = 0  # counts every change a frame shows: steps, a new lr, a typed weight
        self._pending: list[Tensor] = []  # the current epoch's minibatches still to train
        self.last_grads: list[Tensor] = []  # the last step's gradients, W1, b1, ...
        self.lock = threading.Lock()

    def _native(self) -> NativeCalls | None:
        if self.direct is None:
            return None
        params = self.net.network_params()
        penalty = (self.regularization.kind, self.regularization.rate)
        program = plan_native(self.direct, params, self.optimizer, 1, "auto", penalty)
        if program is None:
            return None
        return NativeCalls(program, self.net.network_params, self._targets, 0)

    def _targets(self, y: Tensor, dtype: torch.dtype) -> Tensor:
        return self.feed.targets(y, self.data.out_features, dtype)

    @property
    def engine(self) -> str:
        """How this session trains, in words."""
        if self.native is not None:
            return "nnkit's native program"
        return "the hand-derived whole-network step" if self.direct else "torch autograd"

    def set_lr(self, lr: float) -> None:
        """A new learning rate, from the next step on (no reset)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.config["optimizer"]["lr"] = lr
        self.changes += 1

    def train_epochs(self, count: int = 1) -> None:
        """``count`` epochs: every training point once, in a new order each epoch, a step per
        minibatch. Raises ``DivergenceError`` (nnkit's line) when a loss is not finite."""
        target = self.epoch + count
        while self.epoch < target:
            self.advance(len(self.data.train[0]))

    def finish_epoch(self) -> None:
        """The page's "step": the rest of the epoch under way, or a whole one."""
        self.advance(len(self._pending)) if self._pending else self.train_epochs(1)

    def advance(self, steps: int) -> None:
        """Up to ``steps`` more minibatches of the current epoch (a new epoch, in a new order,
        starts when one ends): what the server trains between two frames."""
        if not self._pending:
            x = self.data.train[0]
            batch = int(self.config["data"]["batch_size"]) or len(x)
            self._pending = list(torch.randperm(len(x), generator=self.generator).split(batch))
        taken, self._pending = self._pending[:steps], self._pending[steps:]
        x, y = self.data.train
        losses = self._steps([(x[i], y[i]) for i in taken])
        self.steps += len(taken)
        self.epoch += 0 if self._pending else 1
        self.changes += 1
        check_losses(losses, self.steps, self.epoch, self.optimizer.param_groups[0]["lr"])

    def _steps(self, batches: list[tuple[Tensor, Tensor]]) -> Tensor:
        expand = getattr(self.net, "expand", None)
        if self.direct is not None and expand is not None:
            batches = [(expand(x), y) for x, y in batches]
        if self.native is not None:
            call = self.native(self.optimizer, batches, self._direct_step)
            self.last_grads = call.last[1] if call.native_steps else self.last_grads
            return call.losses
        step = self._direct_step if self.direct is not None else self._autograd_step
        return torch.stack([step(self.optimizer, x, y)[1].detach() for x, y in batches])

    def _direct_step(self, optimizer: Any, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        assert self.direct is not None
        pairs, loss_pair, squash = self.direct
        params = self.net.network_params()
        target = self._targets(y, x.dtype)
        cost, outputs, grads = network_loss_grads(
            x, target, pairs, params, loss_pair, squash, self.regularization
        )
        WeightUpdates(optimizer)(params, grads)
        self.last_grads = list(grads)
        return outputs, cost

    def _autograd_step(self, optimizer: Any, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        optimizer.zero_grad(set_to_none=True)
        outputs = self.net(x)
        loss = self.prepared.loss(*self.prepare_loss(outputs, y))
        weights = [p for n, p in self.net.named_parameters() if n.endswith("weight")]
        total = loss + self.regularization.cost(weights) if self.regularization.active else loss
        total.backward()
        optimizer.step()
        self.last_grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        return outputs, loss

    @torch.no_grad()
    def losses(self) -> dict[str, float]:
        """The data's cost on the training and the test points (the Playground's two losses;
        on the first ``LOSS_POINTS`` of each, a sample of shuffled data, where there are more)."""
        out = {}
        for name, (x, y) in (("train", self.data.train), ("test", self.data.test)):
            x, y = x[:LOSS_POINTS], y[:LOSS_POINTS]
            out[name] = float(self.prepared.loss(*self.prepare_loss(self.net(x), y)))
        return out

    def frame(self) -> dict[str, Any]:
        """Everything the page draws now: epoch, losses, weights and biases, and (for points
        of the plane) every unit's value over the square, the output's last."""
        losses = self.losses()
        self.history.append((self.epoch, losses["train"], losses["test"]))
        del self.history[:-500]
        params = [p.detach() for p in self.net.network_params()]
        frame: dict[str, Any] = {
            "type": "frame",
            "epoch": self.epoch,
            "steps": self.steps,
            "loss": losses,
            "lr": self.optimizer.param_groups[0]["lr"],
            "history": self.history[-200:],
            "shapes": [list(w.shape) for w in params[0::2]],
            "weights": _packed(params[0::2]),
            "biases": _packed(params[1::2]),
            "gradient_norms": self.gradient_norms(),
        }
        if self.data.in_features == 2:
            frame["maps"] = base64.b64encode(self.unit_maps().numpy().tobytes()).decode()
            frame["grid"] = self.grid_size
        return frame

    def gradient_norms(self) -> list[float]:
        """Each layer's weight-gradient norm at the last step, input layer first: the
        vanishing gradient, live (a deep sigmoid network's first layers fall by decades)."""
        return [float(g.norm()) for g in self.last_grads[0::2]]

    @torch.no_grad()
    def unit_maps(self) -> Tensor:
        """Every hidden unit's value and the output's over the grid: (units, GRID²) float32."""
        points = self.grid()
        params = self.net.network_params()
        pairs = self.direct[0] if self.direct is not None else None
        if self.native is not None:
            values = self.native.program.maps(params, self.net.expand(points))
        elif pairs is not None:
            output, inputs, _ = network_forward(self.net.expand(points), pairs, params)
            values = torch.cat([*inputs[1:], output], dim=1)
        else:
            values = self.net(points)
        if self.task == "binary":  # the output as its probability, as the points' labels
            values[:, -1] = torch.sigmoid(values[:, -1])
        return values.t().contiguous().float()

    def extent(self) -> tuple[float, float]:
        """The square the pictures cover: the training points' range, on both axes."""
        x = self.data.train[0]
        return float(x.min()), float(x.max())

    @property
    def grid_size(self) -> int:
        """The pictures' points a side: fewer for a network of many units."""
        units = sum(w.shape[0] for w in self.net.network_params()[0::2]) if self.direct else 1
        return GRID if units <= MANY_UNITS else SMALL_GRID

    def grid(self) -> Tensor:
        """The pictures' points over the square the data lies in (row 0 at the top)."""
        low, high = self.extent()
        axis = torch.linspace(low, high, self.grid_size, dtype=self.data.train[0].dtype)
        ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # row 0 at the top
        return torch.stack([xs.flatten(), ys.flatten()], dim=1)

    def description(self) -> dict[str, Any]:
        """What the page needs once per build: the settings, the network's shape, the points."""
        widths = [self.data.in_features]
        widths += [w.shape[0] for w in self.net.network_params()[0::2]] if self.direct else []
        count = self.data.in_features
        names = list(self.data.features) or [f"x{i + 1}" for i in range(count)]
        features = self.config["model"].get("features") or names
        points = {}
        for name, (x, y) in (("train", self.data.train), ("test", self.data.test)):
            drawn = slice(0, DRAWN_POINTS)  # the data are shuffled: the first are a sample
            points[name] = {"x": x[drawn, :2].tolist(), "y": y[drawn].flatten().tolist()}
        return {
            "type": "built",
            "overrides": self.overrides,
            "settings": self.settings(),
            "choices": choices(),
            "task": self.task,
            "classes": self.data.classes,
            "widths": widths,
            "features": list(features),
            "engine": self.engine,
            "points": points if self.data.in_features == 2 else None,
            "extent": self.extent(),
            "proof": self.prepared.proof.as_dict(),
            "accuracy": self.accuracy(),
        }

    def settings(self) -> dict[str, Any]:
        """The values of the settings a page turns, as this run has them."""
        values: dict[str, Any] = {}
        for key in KEYS:
            section, _, name = key.partition(".")
            node = self.config.get(section)
            if name:
                if isinstance(node, dict) and name in node:
                    values[key] = node[name]
            else:
                values[key] = node["name"] if isinstance(node, dict) else node
        return values

    @torch.no_grad()
    def accuracy(self) -> float | None:
        """The test points' accuracy (classification), or None."""
        if self.task == "regression":
            return None
        x, y = self.data.test
        return float((predictions(self.task, self.net(x)).flatten() == y.flatten()).float().mean())


def _packed(tensors: Sequence[Tensor]) -> str:
    """Tensors, flattened one after another, as base64 float32 (a page reads them with the
    frame's ``shapes``): a large network's weights in a fraction of JSON's bytes and time."""
    flat = torch.cat([t.reshape(-1) for t in tensors]).float()
    return base64.b64encode(flat.numpy().tobytes()).decode()


def unpack(frame: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
    """A frame's weights and biases as tensors again (what the page does in JavaScript).

    >>> session = Session(["data=circular", "data.n=100", "model.hidden=[3]"])
    >>> weights, biases = unpack(session.frame())
    >>> [tuple(w.shape) for w in weights], [tuple(b.shape) for b in biases]
    ([(3, 2), (1, 3)], [(3,), (1,)])
    """
    shapes = [tuple(shape) for shape in frame["shapes"]]
    out = []
    for key, sizes in (("weights", [r * c for r, c in shapes]), ("biases", [r for r, _ in shapes])):
        flat = torch.frombuffer(bytearray(base64.b64decode(frame[key])), dtype=torch.float32)
        out.append(list(flat.split(sizes)))
    weights = [w.reshape(shape) for w, shape in zip(out[0], shapes, strict=True)]
    return weights, out[1]

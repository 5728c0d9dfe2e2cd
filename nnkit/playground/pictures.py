"""What a page draws of a session: once per build its ``description`` (settings, the
network's shape, the points), then ``frame`` after frame (epoch, losses — the page keeps
their curve —, weights and biases,
every unit's response over the plane, or — for data that is not a plane — the page's input
flowing through the network and the confusion matrix). With replicas, the network drawn is the
best replica, and the worst one's output comes beside it.

>>> from nnkit.playground.session import Session
>>> session = Session(["data=circular", "data.n=100", "model.hidden=[3]"])
>>> weights, biases = unpack(frame(session))
>>> [tuple(w.shape) for w in weights], [tuple(b.shape) for b in biases]
([(3, 2), (1, 3)], [(3,), (1,)])
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from nnkit.data.task import confusion_counts, predictions
from nnkit.maths.extras import evaluating
from nnkit.maths.features import FEATURES
from nnkit.maths.layers import NORMS
from nnkit.maths.network import layer_values
from nnkit.maths.regularization import KINDS
from nnkit.playground.session import Session
from nnkit.playground.settings import KEYS
from nnkit.viz.step import trace

GRID = 40  # the pictures' resolution: GRID x GRID points over the data's square
SMALL_GRID, MANY_UNITS = 16, 48  # coarser pictures for networks of more units than that
DRAWN_POINTS = 1500  # the points a page draws, of each split
THUMBNAILS = 16  # a layer of more units is drawn without each unit's picture


def choices() -> dict[str, list[str]]:
    """The names a page offers: every registered activation (plugins too), loss, optimizer,
    initializer, learning-rate schedule."""
    from nnkit.activations import ACTIVATIONS
    from nnkit.initializers import INITIALIZERS
    from nnkit.losses import LOSSES
    from nnkit.optimizers import OPTIMIZERS
    from nnkit.optimizers.schedulers import SCHEDULERS

    return {
        "activations": ACTIVATIONS.names(),
        "losses": ["auto", *LOSSES.names()],
        "optimizers": OPTIMIZERS.names(),
        "inits": INITIALIZERS.names(),
        "schedulers": SCHEDULERS.names(),
        "features": list(FEATURES),
        "regularizations": list(KINDS),
        "norms": list(NORMS),
    }


@dataclass
class Snapshot:
    """What a frame needs of a session at one instant, taken under its lock in microseconds
    (copies of the weights; the rest of the frame is computed while training goes on)."""

    epoch: int
    steps: int
    lr: float
    params: list[Tensor]
    gradient_norms: list[float]
    locked: dict[str, Any]  # what is drawn of the live network itself (data not a plane)


def snapshot(session: Session) -> Snapshot:
    """The session now (call it with the session's lock held)."""
    locked: dict[str, Any] = {}
    if session.data.in_features != 2 or session.direct is None:
        locked["loss"] = session.losses()
    if session.data.in_features != 2:
        locked["probe"], locked["confusion"] = probe(session), confusion(session)
    return Snapshot(
        session.epoch,
        session.steps,
        session.optimizer.param_groups[0]["lr"],
        [p.detach().clone() for p in session.net.network_params()],
        session.gradient_norms(),
        locked,
    )


def frame(session: Session, now: Snapshot | None = None) -> dict[str, Any]:
    """Everything the page draws of ``now`` (by default: a snapshot taken here)."""
    now = now or snapshot(session)
    losses = now.locked.get("loss") or session.losses(now.params)
    params = session.shown_params(now.params)
    out: dict[str, Any] = {
        "type": "frame",
        "epoch": now.epoch,
        "steps": now.steps,
        "loss": losses,
        "lr": now.lr,
        "shapes": [list(w.shape) for w in params[0::2]],
        "weights": _packed(params[0::2]),
        "biases": _packed(params[1::2]),
        "gradient_norms": now.gradient_norms,
        "replicas": session.replica_summary(),
        **{k: v for k, v in now.locked.items() if k != "loss"},
    }
    if session.data.in_features == 2:
        layers, rows = mapped(params, session.direct is not None)
        out["maps"] = _encoded(unit_maps(session, params, session.shown)[rows])
        out["mapped"], out["grid"] = layers, grid_size(session)
        if out["replicas"] is not None:
            worst = [p[out["replicas"]["worst"]] for p in now.params]
            outputs = session.data.out_features
            worst_maps = unit_maps(session, worst, out["replicas"]["worst"])
            out["worst_map"] = _encoded(worst_maps[-outputs:])
    return out


def mapped(params: Sequence[Tensor], hidden: bool = True) -> tuple[list[int], Tensor]:
    """The layers whose units a frame pictures (1 for the first hidden layer, ..., the output
    last): those of at most ``THUMBNAILS`` units, and the output (the output alone where
    ``unit_maps`` has no ``hidden`` units: a network without hand-derived pairs); and their
    rows of ``unit_maps``."""
    widths = [w.shape[0] for w in params[0::2]]
    if not hidden:
        return [len(widths)], torch.arange(widths[-1])
    layers = [i + 1 for i, w in enumerate(widths) if w <= THUMBNAILS or i == len(widths) - 1]
    starts = [sum(widths[:i]) for i in range(len(widths))]
    rows = [starts[layer - 1] + u for layer in layers for u in range(widths[layer - 1])]
    return layers, torch.tensor(rows, dtype=torch.long)


@torch.no_grad()
def unit_maps(session: Session, params: list[Tensor], replica: int = 0) -> Tensor:
    """Every hidden unit's value and the outputs' over the grid, for one network's ``params``
    (``W1, b1, ...``; replica ``replica``'s, with replicas): ``(units, GRID²)`` float32."""
    points = grid(session)
    net = session.net
    if session.engine.native is not None and session.replicas == 1:
        extras = net.native_params()[len(params) :]  # normalizations' scales and statistics
        values = session.engine.native.program.maps([*params, *extras], net.expand(points))
    elif session.direct is not None:
        x = net.expand(points)
        stack = session.engine.stack(x, training=False)
        if stack is not None and session.replicas > 1:
            stack = stack.replica(replica)
        output, hidden = layer_values(x, session.direct[0], params, stack)
        values = torch.cat([*hidden, output], dim=1)
    else:
        with evaluating(net):
            values = net(points)
    if session.task == "binary":  # the output as its probability, as the points' labels
        values[:, -1] = torch.sigmoid(values[:, -1])
    return values.t().contiguous().float()


@torch.no_grad()
def probe(session: Session) -> dict[str, Any] | None:
    """The page's input through the network drawn: every unit's activation, layer by layer,
    and the answer (the classes' probabilities, a value)."""
    if session.probe_input is None or session.direct is None:
        return None
    x = torch.tensor([session.probe_input], dtype=session.data.train[0].dtype)
    step = trace(session.shown_net(), x, squash=None)
    outputs = step.answer[0]
    if session.task == "multiclass":
        outputs = torch.softmax(outputs, dim=0)
    elif session.task == "binary":
        outputs = torch.sigmoid(outputs)
    return {
        "input": session.probe_input,
        "layers": [layer.activated[0].tolist() for layer in step.layers[:-1]],
        "answer": outputs.tolist(),
    }


@torch.no_grad()
def confusion(session: Session) -> list[list[int]] | None:
    """The test points' confusion matrix of the network drawn (row: the label, column: the
    answer), or None for a regression."""
    if session.task == "regression":
        return None
    x, y = session.data.test
    answers = predictions(session.task, session.shown_net()(x))
    return confusion_counts(y, answers, max(2, int(session.data.classes or 2))).tolist()


def extent(session: Session) -> tuple[float, float]:
    """The square the pictures cover: the training points' range, on both axes."""
    x = session.data.train[0]
    return float(x.min()), float(x.max())


def grid_size(session: Session) -> int:
    """The pictures' points a side: fewer for a network of many units."""
    units = sum(w.shape[-2] for w in session.net.network_params()[0::2]) if session.direct else 1
    return GRID if units <= MANY_UNITS else SMALL_GRID


def grid(session: Session) -> Tensor:
    """The pictures' points over the square the data lies in (row 0 at the top)."""
    low, high = extent(session)
    axis = torch.linspace(low, high, grid_size(session), dtype=session.data.train[0].dtype)
    ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def description(session: Session) -> dict[str, Any]:
    """What the page needs once per build: the settings, the network's shape, the points."""
    data = session.data
    widths = [data.in_features]
    widths += [w.shape[0] for w in session.shown_params()[0::2]] if session.direct else []
    names = list(data.features) or [f"x{i + 1}" for i in range(data.in_features)]
    points = {}
    for name, (x, y) in (("train", data.train), ("test", data.test)):
        drawn = slice(0, DRAWN_POINTS)  # the data are shuffled: the first are a sample
        points[name] = {"x": x[drawn, :2].tolist(), "y": y[drawn].flatten().tolist()}
    return {
        "type": "built",
        "overrides": session.overrides,
        "settings": settings(session),
        "choices": choices(),
        "task": session.task,
        "classes": data.classes,
        "widths": widths,
        "features": list(session.config["model"].get("features") or names),
        "engine": session.how,
        "points": points if data.in_features == 2 else None,
        "extent": extent(session),
        "proof": session.prepared.proof.as_dict(),
        "thumbnails": THUMBNAILS,
    }


def settings(session: Session) -> dict[str, Any]:
    """The values of the settings a page turns, as this run has them."""
    values: dict[str, Any] = {}
    for key in KEYS:
        section, _, name = key.partition(".")
        node = session.config.get(section)
        if name:
            if isinstance(node, dict) and name in node:
                values[key] = node[name]
        else:
            values[key] = node["name"] if isinstance(node, dict) else node
    return values


def _encoded(values: Tensor) -> str:
    return base64.b64encode(values.float().contiguous().numpy().tobytes()).decode()


def _packed(tensors: Sequence[Tensor]) -> str:
    """Tensors, flattened one after another, as base64 float32 (a page reads them with the
    frame's ``shapes``): a large network's weights in a fraction of JSON's bytes and time."""
    return _encoded(torch.cat([t.reshape(-1) for t in tensors]))


def unpack(drawn: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
    """A frame's weights and biases as tensors again (what the page does in JavaScript)."""
    shapes = [tuple(shape) for shape in drawn["shapes"]]
    out = []
    for key, sizes in (("weights", [r * c for r, c in shapes]), ("biases", [r for r, _ in shapes])):
        flat = torch.frombuffer(bytearray(base64.b64decode(drawn[key])), dtype=torch.float32)
        out.append(list(flat.split(sizes)))
    weights = [w.reshape(shape) for w, shape in zip(out[0], shapes, strict=True)]
    return weights, out[1]

"""*Explain this step* on the page: what ``nnkit.explain`` prints for one point — each unit's
weighted sum and activation, the cost, the error at the output, each layer's error after its
activation's derivative, every weight's and bias's correction — by nnkit's hand-derived pairs,
with torch autograd's largest difference beside them; and the article's worked example.

>>> from nnkit.playground.session import Session
>>> session = Session(ARTICLE)
>>> set_article_weights(session)
>>> step = explain_step(session, [1.0, 0.5], [1.0])
>>> [(round(u["weighted"], 4), round(u["activated"], 4)) for u in step["layers"][0]["units"]]
[(3.25, 3.25), (-0.3, 0.0)]
>>> round(step["layers"][1]["units"][0]["weighted"], 4), round(step["answer"][0], 4)
(6.5, 0.9985)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from nnkit.errors import ConfigError
from nnkit.losses import Loss
from nnkit.maths.functions import SIGMOID
from nnkit.playground.session import Session
from nnkit.viz.step import ARTICLE as ARTICLE_WEIGHTS
from nnkit.viz.step import Layer, Step, largest_difference, trace, trace_with_autograd

# the article's 2-2-1 network: ReLU hidden units, a sigmoid output, the squared error
ARTICLE = ["data=circular", "model.hidden=[2]", "model.activation=relu", "loss=mse",
           "optimizer=sgd", "optimizer.lr=0.1", "model.features=null"]  # fmt: skip
ARTICLE_POINT = ([1.0, 0.5], [1.0])  # the article's input and target


def set_article_weights(session: Session) -> None:
    """The article's weights in a session of ``ARTICLE``'s network."""
    w1, b1, w2, b2 = session.net.network_params()
    with torch.no_grad():
        for weight, bias, prefix in ((w1, b1, "hidden"), (w2, b2, "output")):
            weight.copy_(torch.tensor(ARTICLE_WEIGHTS[f"{prefix}_weight"]))
            bias.copy_(torch.tensor(ARTICLE_WEIGHTS[f"{prefix}_bias"]))
    session.changes += 1


def explain_step(session: Session, x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """One step's numbers for input ``x`` and label ``y`` (as the data holds them), in float64,
    at the session's learning rate; ``ConfigError`` where the network has no hand-derived
    pairs to trace (``model.backend=torch``, a plugin's model)."""
    loss = session.prepared.loss
    if session.direct is None or not isinstance(loss, Loss):
        raise ConfigError("this network has no hand-derived pairs (model.backend=torch, or a "
                          "plugin's model): its step cannot be explained")  # fmt: skip
    width = session.data.in_features
    if len(x) != width or not all(isinstance(v, int | float) for v in [*x, *y]):
        raise ConfigError(f"explain takes {width} input values and a label, not {list(x)}")
    net = copy.deepcopy(session.shown_net()).double()
    row = torch.tensor([list(x)], dtype=torch.float64)
    labels = session.data.train[1]  # (N,) class indices, or (N, outputs)
    label = torch.tensor(list(y), dtype=labels.dtype).reshape(1, *labels.shape[1:])
    target = session.feed.targets(label, session.data.out_features, torch.float64)
    squash = SIGMOID if session.feed.squash else None
    lr = float(session.optimizer.param_groups[0]["lr"])
    ours = trace(net, row, target, loss.pair(), squash, lr)
    theirs = trace_with_autograd(net, row, target, lr, loss.reference, squash is not None)
    return {
        "type": "explained",
        "input": list(x),
        "label": list(y),
        "lr": lr,
        "layers": _layers(ours),
        "answer": ours.answer[0].tolist(),
        "cost": ours.cost,
        "difference": largest_difference(ours, theirs),
    }


def _layers(step: Step) -> list[dict[str, Any]]:
    """Each layer's units' numbers; where the layer has them, its normalization's mean and
    variance (one of a row for layer normalization, each unit's for batch normalization), the
    normalized sums, the dropout mask and what the next layer reads."""
    layers = []
    for layer in step.layers:
        assert layer.error is not None and layer.weight_correction is not None
        assert layer.bias_correction is not None
        units = [
            {
                "weighted": float(layer.weighted[0, u]),
                "activated": float(layer.activated[0, u]),
                "error": float(layer.error[0, u]),
                "bias_correction": float(layer.bias_correction[u]),
                "weight_corrections": layer.weight_correction[u].tolist(),
                **_extras(layer, u),
            }
            for u in range(layer.weighted.shape[1])
        ]
        shown: dict[str, Any] = {"name": layer.name, "units": units}
        if layer.mean is not None and layer.var is not None:
            shown["norm"] = {
                "kind": layer.norm,
                "mean": layer.mean.tolist(),
                "var": layer.var.tolist(),
            }
        layers.append(shown)
    return layers


def _extras(layer: Layer, unit: int) -> dict[str, float]:
    """A unit's normalized sum, dropout mask and passed-on value, where its layer has them."""
    fields = {"normalized": layer.normalized, "mask": layer.mask, "passed": layer.passed}
    return {key: float(value[0, unit]) for key, value in fields.items() if value is not None}

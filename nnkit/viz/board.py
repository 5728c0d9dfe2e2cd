"""Every TensorBoard tab put to use by a run: Custom Scalars (train and validation on one chart),
Text (the resolved config, the run summary), PR curves (binary tasks), the Projector (the last
hidden layer's representation of the test points, labelled), the Graph (where the model can be
traced), and the network drawn for one input (``figures/network``), beside nnkit's figures.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeGuard

import torch
from torch import nn

from nnkit.data.dataset import TensorData
from nnkit.maths.extras import evaluating
from nnkit.models import MLP

MAX_DRAWN_UNITS = 16  # networks with wider layers are not drawn every few epochs
PROJECTED_POINTS = 2000  # the Projector shows the first test points, up to this many


def custom_scalars(task: str) -> dict[str, Any]:
    """The Custom Scalars layout: each metric's training and validation curves on one chart."""
    metrics = ["loss", "acc"] if task != "regression" else ["loss", "r2", "mse"]
    charts = {
        metric: ["Multiline", [f"train/{metric}_epoch" if metric == "loss" else f"train/{metric}",
                               f"val/{metric}"]]
        for metric in metrics
    }  # fmt: skip
    return {"train and validation": charts}


def log_start(experiment: Any, task: str, config_yaml: str) -> None:
    """What a run shows from its first step: the charts' layout and its config."""
    experiment.add_custom_scalars(custom_scalars(task))
    experiment.add_text("config", "```\n" + config_yaml + "\n```", 0)


def log_replica_scores(experiment: Any, key: str, scores: torch.Tensor, step: int) -> None:
    """A metric of every replica (``scores``, one value each): their histogram and each
    replica's own curve (``replicas/KEY/007``)."""
    experiment.add_histogram(f"replicas/{key}", scores, step)
    for replica, value in enumerate(scores.tolist()):
        experiment.add_scalar(f"replicas/{key}/{replica:03d}", value, step)


def drawable(net: nn.Module) -> TypeGuard[MLP]:
    """A network small enough to draw every few epochs, whose step can be traced."""
    if not isinstance(net, MLP) or net.pairs is None:
        return False
    widths = [weight.shape[0] for weight in net.network_params()[0::2]]
    return 0 < max(widths) <= MAX_DRAWN_UNITS


def network_figure(net: MLP, data: TensorData) -> Any:
    """The network drawn for the first validation input (``nnkit.viz.drawing``)."""
    from nnkit.viz.drawing import draw
    from nnkit.viz.step import trace

    x = data.val[0][:1].double()
    twin = _double(net)
    params = twin.network_params()
    step = trace(twin, x, squash=None)
    return draw(step, params[0::2], params[1::2], "the first validation input")


def _double(net: MLP) -> MLP:
    import copy

    return copy.deepcopy(net).double()


def last_hidden(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The last hidden layer's activations for ``x`` (an MLP with a hidden layer), else None."""
    layers = getattr(net, "layers", None)
    if layers is None or len(layers) < 3:
        return None
    if isinstance(net, MLP):
        return net.hidden_values(x)[-1]
    expand = getattr(net, "expand", lambda inputs: inputs)  # model.features, if any
    with torch.no_grad(), evaluating(net):
        return layers[:-1](expand(x))


def log_end(experiment: Any, net: nn.Module, data: TensorData, step: int) -> None:
    """What a finished run adds: PR curves, the projector's embedding (of the first
    ``PROJECTED_POINTS`` test points: its metadata is written row by row), the graph; the
    inputs in the network's precision (``trainer.precision=64`` trains a float64 one)."""
    dtype = next((p.dtype for p in net.parameters() if p.is_floating_point()), torch.float32)
    x_val, y_val = data.val[0].to(dtype), data.val[1]
    with torch.no_grad(), evaluating(net):
        outputs = net(x_val)
    if data.task == "binary":
        experiment.add_pr_curve("pr_curve/val", y_val.flatten().long(),
                                torch.sigmoid(outputs).flatten(), step)  # fmt: skip
    x_test, y_test = (part[:PROJECTED_POINTS] for part in data.test)
    hidden = last_hidden(net, x_test.to(dtype))
    if hidden is not None:
        labels = _labels(data, y_test)
        experiment.add_embedding(hidden, metadata=labels, tag="last_hidden_layer/test",
                                 global_step=step)  # fmt: skip
    with contextlib.suppress(Exception), evaluating(net):
        experiment.add_graph(net, x_val[:1])


def _labels(data: TensorData, y: torch.Tensor) -> list[str]:
    if data.task == "regression":
        return [f"{v:.3g}" for v in y[:, 0].tolist()]
    names = list(data.labels) or [str(i) for i in range(max(2, data.classes))]
    indices = y.flatten().long().tolist()
    return [names[i] for i in indices]

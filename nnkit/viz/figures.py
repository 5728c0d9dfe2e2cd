"""Pictures of what a model has learned, as matplotlib figures (drawn off-screen).

- ``decision_boundary``: for 2-D classification, the predicted class over the plane, with the
  points on top, as the TensorFlow Playground draws it;
- ``fitted_curve``: for 1-D regression, the data and the model's curve;
- ``confusion_matrix``: for multiclass data, true against predicted class.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from nnkit.data.dataset import TensorData
from nnkit.data.task import TASKS, confusion_counts, predictions
from nnkit.maths.extras import evaluating
from nnkit.models import MLP

MAX_POINTS = 1000  # points drawn on a figure: enough to see the data, cheap to draw


def _some(*tensors: Tensor) -> tuple[Tensor, ...]:
    """At most ``MAX_POINTS`` rows of each tensor, evenly spread."""
    step = max(1, -(-len(tensors[0]) // MAX_POINTS))
    return tuple(t[::step] for t in tensors)


def _plane(x: Tensor, steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """A ``steps`` × ``steps`` grid over the points' bounding box (with a margin): its x and y
    coordinates, and the grid as inputs ``(steps², 2)``."""
    low, high = x.min(0).values - 0.1, x.max(0).values + 0.1
    gx, gy = torch.meshgrid(
        torch.linspace(low[0], high[0], steps),
        torch.linspace(low[1], high[1], steps),
        indexing="xy",
    )
    return gx, gy, torch.stack([gx.flatten(), gy.flatten()], dim=1).to(x.dtype)


def _apply(net: nn.Module, x: Tensor) -> Tensor:
    """``net(x)`` on the net's own device, returned on the CPU."""
    device = next(net.parameters()).device
    with evaluating(net):
        return net(x.to(device)).cpu()


@torch.no_grad()
def decision_boundary(net: nn.Module, x: Tensor, y: Tensor, task: str, steps: int = 120):
    """The plane coloured by the predicted class, and the points coloured by their label."""
    gx, gy, grid = _plane(x, steps)
    outputs = _apply(net, grid)
    if task == "binary":
        surface = torch.sigmoid(outputs).reshape(steps, steps)
    else:
        surface = predictions(task, outputs).reshape(steps, steps).to(x.dtype)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.contourf(gx, gy, surface, levels=20, cmap="RdBu", alpha=0.6)
    x, y = _some(x, y)
    ax.scatter(x[:, 0], x[:, 1], c=y.flatten(), cmap="RdBu", edgecolors="k", s=12)
    ax.set(xlabel="x1", ylabel="x2", title="decision boundary")
    fig.tight_layout()
    return fig


@torch.no_grad()
def fitted_surface(net: nn.Module, x: Tensor, y: Tensor, steps: int = 120):
    """A regression over the plane: the model's prediction as contours, the points coloured
    by their value on the same scale."""
    gx, gy, grid = _plane(x, steps)
    surface = _apply(net, grid)[:, 0].reshape(steps, steps)
    low, high = float(min(surface.min(), y.min())), float(max(surface.max(), y.max()))
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.contourf(gx, gy, surface, levels=20, cmap="viridis", alpha=0.7, vmin=low, vmax=high)
    x, y = _some(x, y)
    ax.scatter(x[:, 0], x[:, 1], c=y[:, 0], cmap="viridis", vmin=low, vmax=high,
               edgecolors="k", s=12)  # fmt: skip
    ax.set(xlabel="x1", ylabel="x2", title="fitted surface")
    fig.tight_layout()
    return fig


@torch.no_grad()
def fitted_curve(net: nn.Module, x: Tensor, y: Tensor):
    """The data points and the model's prediction along x."""
    line = torch.linspace(float(x.min()), float(x.max()), 200).unsqueeze(1).to(x.dtype)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x, y = _some(x, y)
    ax.scatter(x[:, 0], y[:, 0], s=8, alpha=0.6, label="data")
    ax.plot(line[:, 0], _apply(net, line)[:, 0], color="C3", linewidth=2, label="model")
    ax.set(xlabel="x", ylabel="y", title="fitted curve")
    ax.legend()
    fig.tight_layout()
    return fig


@torch.no_grad()
def confusion_matrix(net: nn.Module, x: Tensor, y: Tensor, classes: int):
    """Counts of (true class, predicted class)."""
    counts = confusion_counts(y, _apply(net, x).argmax(-1), classes)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(counts, cmap="Blues")
    for i in range(classes):
        for j in range(classes):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix",
        xticks=range(classes),
        yticks=range(classes),
    )
    fig.tight_layout()
    return fig


def _decision_boundary(net: nn.Module, data: TensorData) -> Any:
    x, y = (t.cpu() for t in data.val)
    return decision_boundary(net, x, y, data.task) if data.in_features == 2 else None


def _fitted_curve(net: nn.Module, data: TensorData) -> Any:
    x, y = data.train
    return fitted_curve(net, x.cpu(), y.cpu()) if data.in_features == 1 else None


def _fitted_surface(net: nn.Module, data: TensorData) -> Any:
    x, y = (t.cpu() for t in data.val)
    return fitted_surface(net, x, y) if data.in_features == 2 else None


def _confusion_matrix(net: nn.Module, data: TensorData) -> Any:
    x, y = (t.cpu() for t in data.val)
    return confusion_matrix(net, x, y, data.classes)


@torch.no_grad()
def hidden_units(net: MLP, x: Tensor, steps: int = 48, most: int = 16) -> Any:
    """What each first-hidden-layer unit responds to over the input plane — its activation at
    every point, one small picture per unit (the TensorFlow Playground's neuron thumbnails)."""
    _, _, grid = _plane(x, steps)
    device = next(net.parameters()).device
    responses = net.hidden_values(grid.to(device))[0].cpu()  # (steps², units)
    units = min(most, responses.shape[1])
    columns = min(4, units)
    rows = -(-units // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.6 * rows), squeeze=False)
    for unit, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if unit < units:
            ax.imshow(responses[:, unit].reshape(steps, steps), origin="lower", cmap="RdBu_r")
            ax.set_title(f"unit {unit}", fontsize=7)
    fig.suptitle("first hidden layer, over the input plane", fontsize=8)
    fig.tight_layout()
    return fig


def _hidden_units(net: nn.Module, data: TensorData) -> Any:
    if not isinstance(net, MLP) or data.in_features != 2 or len(net.layers) < 3:
        return None  # an MLP on 2-D inputs, with at least one hidden layer
    return hidden_units(net, data.val[0].cpu())


FIGURES = {
    "hidden_units": _hidden_units,
    "decision_boundary": _decision_boundary,
    "fitted_curve": _fitted_curve,
    "fitted_surface": _fitted_surface,
    "confusion_matrix": _confusion_matrix,
}


def figures_for(net: nn.Module, data: TensorData) -> dict[str, Any]:
    """The figures that ``data``'s task asks for and its shape allows, by TensorBoard tag."""
    drawn = {name: FIGURES[name](net, data) for name in TASKS[data.task].figures}
    return {f"figures/{name}": figure for name, figure in drawn.items() if figure is not None}

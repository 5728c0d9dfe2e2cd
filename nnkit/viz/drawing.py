"""The network drawn as the article draws it: units as circles holding their values for one
input, connections coloured by their weight's sign (blue +, red −) and as wide as its
magnitude, biases beside the units, the predicted output ringed in gold; with a target, a
second panel for the backward pass: each unit's error and each connection's correction.

Wide layers are summarised — the units with the largest activations and the strongest
connections — and the figure says so.
"""

from __future__ import annotations

from typing import Any

import torch

from nnkit.viz.step import Layer, Step

MAX_UNITS = 16  # units drawn per layer
MAX_EDGES = 120  # connections drawn between two layers (the strongest)


def _shown(values: torch.Tensor) -> list[int]:
    """The units drawn: all, or the ``MAX_UNITS`` with the largest absolute values."""
    if len(values) <= MAX_UNITS:
        return list(range(len(values)))
    return sorted(values.abs().topk(MAX_UNITS).indices.tolist())


def _columns(step: Step) -> list[dict[str, Any]]:
    """What each column of circles shows: the inputs, then every layer (the output's values
    are the network's answer, after the output neurons' sigmoid where there is one)."""
    first = step.layers[0]
    columns: list[dict[str, Any]] = [{"name": "input", "values": first.received[0], "layer": None}]
    columns += [{"name": layer.name, "values": layer.activated[0], "layer": layer}
                for layer in step.layers]  # fmt: skip
    columns[-1]["values"] = step.answer[0]
    for column in columns:
        column["units"] = _shown(column["values"])
    return columns


def _positions(columns: list[dict[str, Any]]) -> list[dict[int, tuple[float, float]]]:
    spots = []
    for x, column in enumerate(columns):
        units = column["units"]
        top = (len(units) - 1) / 2
        spots.append({u: (float(x), top - i) for i, u in enumerate(units)})
    return spots


def _label(column: dict[str, Any], unit: int, backward: bool) -> str:
    layer: Layer | None = column["layer"]
    if layer is None:
        return "" if backward else f"{column['values'][unit].item():.3g}"
    if backward:
        return "" if layer.error is None else f"δ {layer.error[0, unit].item():.2g}"
    z, a = layer.weighted[0, unit].item(), column["values"][unit].item()
    return f"{z:.3g}\n→ {a:.4g}"


def _edges(ax: Any, columns, spots, step: Step, backward: bool, net_weights) -> None:
    for index, layer in enumerate(step.layers):
        matrix = layer.weight_correction if backward else net_weights[index]
        if matrix is None:
            continue
        source, target = columns[index]["units"], columns[index + 1]["units"]
        pairs = [(j, i, matrix[j, i].item()) for j in target for i in source]
        pairs = sorted(pairs, key=lambda p: -abs(p[2]))[:MAX_EDGES]
        strongest = max((abs(w) for *_, w in pairs), default=0.0) or 1.0
        for j, i, w in pairs:
            (x0, y0), (x1, y1) = spots[index][i], spots[index + 1][j]
            ax.plot([x0, x1], [y0, y1], color="#1f77b4" if w >= 0 else "#d62728",
                    linewidth=0.3 + 3.5 * abs(w) / strongest, alpha=0.75, zorder=1)  # fmt: skip


def _units(ax: Any, columns, spots, step: Step, backward: bool, predicted: int | None) -> None:
    last = len(columns) - 1
    for index, column in enumerate(columns):
        layer: Layer | None = column["layer"]
        for unit in column["units"]:
            x, y = spots[index][unit]
            ring = "gold" if index == last and unit == predicted and not backward else "k"
            ax.scatter([x], [y], s=1500, color="#eef3fb", edgecolors=ring,
                       linewidths=3 if ring == "gold" else 1, zorder=2)  # fmt: skip
            ax.annotate(_label(column, unit, backward), (x, y), ha="center", va="center",
                        fontsize=6, zorder=3)  # fmt: skip
            if layer is not None:
                bias = layer.bias_correction if backward else None
                text = f"Δb {bias[unit].item() + 0.0:.2g}" if bias is not None else ""
                ax.annotate(text, (x, y - 0.45), ha="center", fontsize=6, color="0.35")
        ax.annotate(column["name"], (index, max(y for _, y in spots[index].values()) + 0.8),
                    ha="center", fontsize=8, weight="bold")  # fmt: skip


def _note(columns: list[dict[str, Any]]) -> str:
    cut = [f"{c['name']}: {len(c['units'])} of {len(c['values'])} units"
           for c in columns if len(c["units"]) < len(c["values"])]  # fmt: skip
    return ("showing the largest activations — " + "; ".join(cut)) if cut else ""


def draw(step: Step, weights: list[torch.Tensor], biases: list[torch.Tensor], title: str = ""):
    """The figure for ``step`` (``nnkit.viz.step.trace``) of a network with these ``weights``
    and ``biases`` (one per layer): the forward panel, and the backward one if the step has
    a target. Returns a matplotlib ``Figure``."""
    from matplotlib import pyplot as plt

    columns = _columns(step)
    spots = _positions(columns)
    backward = step.layers[-1].error is not None
    height = max(len(c["units"]) for c in columns)
    panels = 2 if backward else 1
    size = (2.3 * len(columns) * panels + 0.5, 1.8 + 0.95 * height)
    fig, axes = plt.subplots(1, panels, figsize=size, squeeze=False)
    answer = step.answer[0]
    predicted = int(answer.argmax()) if len(answer) > 1 else 0
    for panel, ax in enumerate(axes[0]):
        is_back = panel == 1
        _edges(ax, columns, spots, step, is_back, weights)
        _units(ax, columns, spots, step, is_back, predicted)
        for index, _layer in enumerate(step.layers):
            if not is_back and len(columns[index + 1]["units"]) <= 8:
                for unit in columns[index + 1]["units"]:
                    x, y = spots[index + 1][unit]
                    ax.annotate(f"b {biases[index][unit].item():.3g}", (x, y - 0.45),
                                ha="center", fontsize=6, color="0.35")  # fmt: skip
        ax.set_title("backward: errors δ and corrections −lr·gradient" if is_back
                     else "forward: weighted sum → activation", fontsize=9)  # fmt: skip
        ax.set_xlim(-0.6, len(columns) - 0.4)
        ax.set_ylim(-(height - 1) / 2 - 0.8, (height - 1) / 2 + 1.1)
        ax.axis("off")
    note = _note(columns)
    fig.suptitle("\n".join(t for t in (title, note) if t), fontsize=9)
    fig.tight_layout()
    return fig

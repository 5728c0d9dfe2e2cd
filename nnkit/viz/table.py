"""One step's numbers as the article tells them, in a plain-text table: for each layer and
unit, the weighted sum and the activation (forward), then the error after the activation's
derivative and the bias's and weights' corrections (backward), nnkit's beside torch's.

>>> import torch
>>> from nnkit.viz.step import article_network, trace, trace_with_autograd
>>> net, x, t = article_network(), torch.tensor([[1.0, 0.5]]).double(), torch.tensor([[1.0]])
>>> print(step_table(trace(net, x, t.double()), trace_with_autograd(net, x, t.double())))
... # doctest: +ELLIPSIS
layer            unit  weighted sum  activation  error (nnkit)  error (torch)  bias correction  weight corrections
hidden 1 (relu)  1     3.25          3.25        -9.001e-06     -9.001e-06     9.001e-07 ...
"""  # noqa: E501

from __future__ import annotations

from torch import Tensor

from nnkit.viz.step import Step, largest_difference

HEADER = ("layer", "unit", "weighted sum", "activation", "error (nnkit)", "error (torch)",
          "bias correction", "weight corrections")  # fmt: skip
EXTRA = {"normalized": ("normalized", 3), "mask": ("dropout mask", 5),
         "passed": ("passed on", 6)}  # fmt: skip  # a layer's field: its column, and where


def _number(value: float) -> str:
    return f"{value + 0.0:.4g}"  # no "-0"


def _cell(values: Tensor | None, unit: int) -> str:
    """The first row's value of ``unit`` in ``values`` (a layer's numbers), or nothing."""
    if values is None:
        return ""
    return _number(float(values[0, unit] if values.dim() > 1 else values[unit]))


def step_table(ours: Step, theirs: Step | None = None) -> str:
    """The table for the first row of the batch; ``theirs`` adds torch's errors beside; where a
    layer is normalized or drops units, its normalized sums, dropout mask and what it passes
    on have their columns."""
    extra = [f for f in EXTRA if any(getattr(layer, f) is not None for layer in ours.layers)]
    header = list(HEADER)
    for field in extra:
        header.insert(EXTRA[field][1], EXTRA[field][0])
    rows = []
    for layer, twin in zip(ours.layers, theirs.layers if theirs else [None] * len(ours.layers),
                           strict=True):  # fmt: skip
        for unit in range(layer.weighted.shape[1]):
            weights = (
                ""
                if layer.weight_correction is None
                else " ".join(_number(w) for w in layer.weight_correction[unit].tolist())
            )
            row = [layer.name, str(unit + 1), _cell(layer.weighted, unit),
                   _cell(layer.activated, unit), _cell(layer.error, unit),
                   _cell(twin.error if twin else None, unit), _cell(layer.bias_correction, unit),
                   weights]  # fmt: skip
            for field in extra:
                row.insert(EXTRA[field][1], _cell(getattr(layer, field), unit))
            rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]  # fmt: skip
    return "\n".join(lines)


def step_summary(ours: Step, theirs: Step | None = None) -> str:
    """The answer, the cost, and how far nnkit's numbers are from torch's."""
    answer = ", ".join(_number(v) for v in ours.answer[0].tolist())
    lines = [f"answer: {answer}"]
    if ours.cost is not None:
        lines.append(f"cost: {_number(ours.cost)}")
    if theirs is not None:
        lines.append(
            f"largest difference from torch autograd: {largest_difference(ours, theirs):.1e}"
        )
    return "\n".join(lines)

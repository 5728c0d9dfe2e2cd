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

from nnkit.viz.step import Step, largest_difference

HEADER = ("layer", "unit", "weighted sum", "activation", "error (nnkit)", "error (torch)",
          "bias correction", "weight corrections")  # fmt: skip


def _number(value: float) -> str:
    return f"{value + 0.0:.4g}"  # no "-0"


def step_table(ours: Step, theirs: Step | None = None) -> str:
    """The table for the first row of the batch; ``theirs`` adds torch's errors beside."""
    rows = []
    for layer, twin in zip(ours.layers, theirs.layers if theirs else [None] * len(ours.layers),
                           strict=True):  # fmt: skip
        for unit in range(layer.weighted.shape[1]):
            error = "" if layer.error is None else _number(layer.error[0, unit].item())
            torch_error = (
                "" if twin is None or twin.error is None else _number(twin.error[0, unit].item())
            )
            bias = (
                "" if layer.bias_correction is None else _number(float(layer.bias_correction[unit]))
            )
            weights = (
                ""
                if layer.weight_correction is None
                else " ".join(_number(w) for w in layer.weight_correction[unit].tolist())
            )
            rows.append((layer.name, str(unit + 1), _number(layer.weighted[0, unit].item()),
                         _number(layer.activated[0, unit].item()), error, torch_error, bias,
                         weights))  # fmt: skip
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [HEADER, *rows]]  # fmt: skip
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

"""Claim 10: backpropagation's corrections at the outputs, and how they reach the weights."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, save


def claim(size: Size, figures: Path) -> Section:
    outputs = torch.full((10,), 0.1, dtype=torch.float64)
    outputs[6], outputs[4] = 0.7, 0.8
    outputs.requires_grad_(True)  # leaf: detached copies are read below
    target = torch.zeros(10, dtype=torch.float64)
    target[6] = 1.0
    cost = nnkit.build_loss("mse")(outputs, target)
    (grad,) = torch.autograd.grad(cost, outputs)  # through nnkit's hand-derived MSE backward
    # One layer back: 4 hidden activations feeding the outputs; dC/dW = g ⊗ h.
    hidden = torch.tensor([0.5, 0.0, 1.2, 0.3], dtype=torch.float64)
    weight_grad = torch.outer(grad.detach(), hidden)  # (10, 4)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.bar(range(10), (-grad.detach()).tolist(), color=["C2" if g < 0 else "C3" for g in grad])
    left.set(
        xticks=range(10),
        xlabel="output neuron",
        ylabel="-dC/dy (descent direction)",
        title="target 6: corrections at the outputs",
    )
    image = right.imshow(-weight_grad, cmap="RdBu", aspect="auto")
    right.set(
        xlabel="hidden unit (activation 0.5, 0, 1.2, 0.3)",
        ylabel="output neuron",
        title="-dC/dW of the output layer",
    )
    fig.colorbar(image, ax=right)
    ratio = float(grad[4] / grad[6])
    table = [["neuron", "output", "target", "target - output", "-dC/dy = 2(t - y)/N"]]
    for n in (6, 4, 0):
        table.append(
            [
                str(n),
                f"{outputs[n].item():.1f}",
                f"{float(target[n]):.0f}",
                f"{(target[n] - outputs[n]).item():+.1f}",
                f"{float(-grad[n]):+.3f}",
            ]
        )
    return Section(
        10,
        "Backpropagation's corrections",
        "For an expected 6, if neuron 6 shows 0.7 the correction is +0.3; if neuron 4 shows 0.8 "
        "instead of 0 the correction is -0.8, and the weights into each neuron are rearranged "
        "accordingly, by derivatives and products of matrices of values and weights.",
        "The article's output values (others at 0.1) through nnkit's MSE; the gradient from its "
        "hand-derived backward; then one layer back with hidden activations (0.5, 0, 1.2, 0.3).",
        f"The descent direction -dC/dy is 2(t - y)/N: +0.06 at neuron 6 and -0.16 at neuron 4, "
        f"exactly the article's +0.3 and -0.8 scaled by 2/N = 0.2: same signs, same proportion "
        f"({ratio:.4f} against -0.8/0.3 = {-0.8 / 0.3:.4f}). At the weights the correction is "
        f"that error times the activation "
        f"feeding each connection: the column of the silent hidden unit gets no correction, the "
        f"most active one the largest.",
        "Supported" if abs(ratio + 0.8 / 0.3) < 1e-9 else "Not supported",
        table,
        save(fig, figures, "c10_backprop.png"),
    )

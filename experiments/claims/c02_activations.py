"""Claim 2: step, sigmoid and ReLU, and their derivatives from nnkit's own backward."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, save


def derivative(name: str, x: torch.Tensor, **options) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and df/dx, the latter from the op's hand-derived backward."""
    x = x.clone().requires_grad_(True)
    y = nnkit.build_activation(name, **options)(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), grad


def claim(size: Size, figures: Path) -> Section:
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    rows = [["activation", "max |backward - formula|", "derivative at 0"]]
    formulas = {
        "sigmoid": lambda v: torch.sigmoid(v) * (1 - torch.sigmoid(v)),
        "relu": lambda v: (v > 0).double(),
    }
    for ax, name in zip(axes, ("sigmoid", "relu")):
        y, grad = derivative(name, x)
        ax.plot(x, y, label=name)
        ax.plot(x, grad, "--", label=f"{name}' (nnkit backward)")
        ax.legend(fontsize=7)
        error = float((grad - formulas[name](x)).abs().max())
        rows.append([name, f"{error:.1e}", f"{float(derivative(name, torch.zeros(1))[1]):g}"])
    y, _ = derivative("step", x, ste="none")
    axes[2].plot(x, y, label="step")
    for ste, style in (("none", "-"), ("identity", "--"), ("clipped", ":")):
        _, grad = derivative("step", x, ste=ste)
        axes[2].plot(x, grad, style, label=f"backward, ste={ste}")
        rows.append(
            [
                f"step (ste={ste})",
                "surrogate" if ste != "none" else "0 (true)",
                f"{float(derivative('step', torch.zeros(1), ste=ste)[1]):g}",
            ]
        )
    axes[2].legend(fontsize=7)
    axes[2].set_ylim(-0.2, 1.3)
    sigmoid_peak = float(derivative("sigmoid", torch.zeros(1))[1])
    return Section(
        2,
        "Activation functions and their derivatives",
        "The step jumps from 0 to 1 at zero and has no useful derivative; the sigmoid squashes "
        "into (0, 1) and its derivative tends to zero for large |x|; ReLU keeps positives, "
        "zeroes negatives, and has derivative 1 for x > 0, 0 for x < 0 and 0 at the origin by "
        "convention.",
        "Each function and its derivative through nnkit's hand-derived backward on 1,201 points "
        "in [-6, 6], float64, compared with the closed-form derivative. For the step, the true "
        "zero derivative (`ste=none`) beside the straight-through surrogates.",
        f"The backward passes equal the formulas to rounding (table). The sigmoid's derivative "
        f"peaks at {sigmoid_peak:.2f} at 0 and is below 0.0025 at |x| = 6; ReLU's is 0 at the "
        f"origin; the step's true derivative is 0 everywhere, so only a surrogate lets an error "
        f"flow back through it.",
        "Supported",
        rows,
        save(fig, figures, "c02_activations.png"),
        "python -m nnkit.gradcheck",
    )

"""Claim 9: gradient descent walks down a cost surface in steps that shrink as it flattens."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from experiments.common import Section, Size, save


def cost(w: torch.Tensor) -> torch.Tensor:
    """A two-variable bowl, steeper along w2: C = (w1² + 4 w2²) / 2."""
    return 0.5 * (w[..., 0] ** 2 + 4 * w[..., 1] ** 2)


def descend(lr: float, steps: int) -> torch.Tensor:
    """The path of plain gradient descent from (-2, 1.5), gradients by autograd."""
    w = torch.tensor([-2.0, 1.5], dtype=torch.float64, requires_grad=True)
    path = [w.detach().clone()]
    for _ in range(steps):
        (grad,) = torch.autograd.grad(cost(w), w)
        with torch.no_grad():
            w -= lr * grad
        path.append(w.detach().clone())
    return torch.stack(path)  # (steps + 1, 2)


def claim(size: Size, figures: Path) -> Section:
    rates = {"good (0.2)": 0.2, "too small (0.02)": 0.02, "too large (0.52)": 0.52}
    paths = {name: descend(lr, 25) for name, lr in rates.items()}
    grid = torch.linspace(-2.5, 2.5, 200, dtype=torch.float64)
    g1, g2 = torch.meshgrid(grid, grid, indexing="xy")
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.contour(g1, g2, cost(torch.stack([g1, g2], -1)), levels=20, cmap="viridis", alpha=0.6)
    for (name, path), colour in zip(paths.items(), ("C3", "C0", "C1")):
        ax.plot(path[:, 0], path[:, 1], "o-", markersize=3, color=colour, label=name)
    ax.set(
        xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), xlabel="w1", ylabel="w2", title="C = (w1² + 4 w2²)/2"
    )
    ax.legend(fontsize=7)
    table = [["learning rate", "cost after 0 / 5 / 25 steps", "step lengths 1, 5, 20"]]
    for name, path in paths.items():
        costs = cost(path)
        lengths = (path[1:] - path[:-1]).norm(dim=1)
        table.append(
            [
                name,
                " / ".join(f"{float(costs[i]):.3g}" for i in (0, 5, 25)),
                ", ".join(f"{float(lengths[i]):.3g}" for i in (0, 4, 19)),
            ]
        )
    good = (paths["good (0.2)"][1:] - paths["good (0.2)"][:-1]).norm(dim=1)
    shrinking = bool((good[1:] <= good[:-1] + 1e-12).all())
    return Section(
        9,
        "Gradient descent",
        "Gradient descent starts from a random point and moves against the derivative: a big "
        "derivative means a steep slope and a wide step, a small one means the minimum is near "
        "and the steps shrink; the learning rate scales them.",
        "Plain gradient descent on a two-variable bowl from (-2, 1.5), 25 steps, with a good, a "
        "too-small and a too-large learning rate (for this bowl, steps diverge along w2 once the "
        "rate exceeds 0.5).",
        f"With 0.2 the step lengths shrink monotonically ({'yes' if shrinking else 'no'}) as the "
        f"slope flattens and the cost falls to {float(cost(paths['good (0.2)'][-1])):.1e}. With "
        f"0.02 it crawls; with 0.52 it overshoots from side to side and the cost grows.",
        "Supported" if shrinking else "Not supported",
        table,
        save(fig, figures, "c09_gradient_descent.png"),
    )

"""Claim 3: on curved data a linear model fits badly, a network with activations well."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, data, mean_std, save, train

MODELS = {"linear": ["model=linear"], "mlp (ReLU, 32)": ["model=mlp"]}


def claim(size: Size, figures: Path) -> Section:
    epochs = f"trainer.max_epochs={size.epochs_of(100)}"
    scores: dict[str, list[float]] = {name: [] for name in MODELS}
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x, y = data("nonlinear").train
    ax.scatter(x[:, 0], y[:, 0], s=6, alpha=0.5, color="0.5", label="data")
    line = torch.linspace(-1, 1, 200).unsqueeze(1)
    for name, overrides in MODELS.items():
        for seed in range(size.seeds):
            with tempfile.TemporaryDirectory() as folder:
                metrics = train(
                    ["data=nonlinear", *overrides, epochs, f"seed={seed}"], Path(folder)
                )
                scores[name].append(metrics["val/mse"])
                if seed == 0:
                    net, _ = nnkit.load_model(Path(folder) / "checkpoints" / "last.ckpt")
                    with torch.no_grad():
                        ax.plot(line[:, 0], net(line)[:, 0], linewidth=2, label=name)
    ax.legend(fontsize=8)
    ax.set(xlabel="x", ylabel="y", title="y = sin(3x) + noise")
    table = [["model", "validation MSE (mean ± sd)", "seeds"]]
    table += [[name, mean_std(values), str(len(values))] for name, values in scores.items()]
    linear, mlp = (sum(v) / len(v) for v in scores.values())
    return Section(
        3,
        "Linear vs nonlinear regression",
        "Without activation functions a network is a linear model that approximates the data "
        "with a straight line, imprecisely; with a nonlinearity it approximates the curve much "
        "more precisely.",
        f"`data=nonlinear` (y = sin(3x) + 0.1·noise, 500 points), `model=linear` against "
        f"`model=mlp` (one hidden layer of 32 ReLU units), MSE loss, Adam 0.01, "
        f"{size.epochs_of(100)} epochs, seeds 0–{size.seeds - 1}.",
        f"The linear model's validation MSE is {linear / mlp:.1f}× the network's "
        f"({linear:.3f} vs {mlp:.3f}); the noise floor is 0.01.",
        "Supported" if linear > 3 * mlp else "Not supported at this size",
        table,
        save(fig, figures, "c03_regression.png"),
        "python -m nnkit.train -m data=nonlinear model=linear,mlp seed=0,1,2,3,4",
    )

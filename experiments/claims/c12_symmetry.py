"""Claim 12 (after the article): weights must start at random — a constant start keeps every
unit of a layer the same."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from experiments.common import Section, Size, mean_std, save, train

INITS = ("zeros", "ones", "small_random", "default")
NETWORK = ["data=circular", "model.hidden=[4,3]", "model.activation=tanh"]


def distinct_units(state: dict[str, torch.Tensor], layer: str) -> int:
    """How many different units a layer holds: each unit's row of weights and its bias."""
    units = torch.cat([state[f"{layer}.weight"], state[f"{layer}.bias"][:, None]], dim=1)
    return len({tuple(row.tolist()) for row in units})


def claim(size: Size, figures: Path) -> Section:
    epochs = f"trainer.max_epochs={size.epochs_of(150)}"
    accuracy: dict[str, list[float]] = {init: [] for init in INITS}
    distinct: dict[str, list[tuple[int, int]]] = {init: [] for init in INITS}
    first_layers = {}
    for init in INITS:
        for seed in range(size.seeds):
            with tempfile.TemporaryDirectory() as folder:
                run = [*NETWORK, f"model.init={init}", epochs, f"seed={seed}"]
                metrics = train(run, Path(folder))
                path = Path(folder) / "checkpoints" / "last.ckpt"
                state = torch.load(path, weights_only=True)["state_dict"]
            accuracy[init].append(metrics["val/acc"])
            distinct[init].append(tuple(distinct_units(state, f"net.layers.{i}") for i in (0, 2)))
            if seed == 0:
                first_layers[init] = state["net.layers.0.weight"]
    fig, axes = plt.subplots(1, len(INITS), figsize=(10, 2.2))
    for ax, init in zip(axes, INITS):
        ax.imshow(first_layers[init], cmap="RdBu", vmin=-3, vmax=3)
        ax.set(title=f"{init}: {distinct[init][0][0]} distinct", xticks=[0, 1], yticks=range(4))
        ax.set_xlabel("input", fontsize=8)
    fig.suptitle("the first layer's trained weights (4 units × 2 inputs), seed 0", fontsize=9)
    table = [["model.init", "distinct units in layer 1 / layer 2 (each seed)", "val/acc"]]
    table += [
        [init, ", ".join(f"{a}/{b}" for a, b in distinct[init]), mean_std(accuracy[init])]
        for init in INITS
    ]
    constant = all(d == (1, 1) for init in ("zeros", "ones") for d in distinct[init])
    broken = all(d == (4, 3) for init in ("small_random", "default") for d in distinct[init])
    return Section(
        12,
        "After the article: symmetry from a constant start",
        "Units of one layer that start equal compute the same sum, receive the same correction "
        "and stay equal — a layer of four behaves as one; a random start breaks the symmetry.",
        f"`data=circular`, a 2-4-3-1 tanh network, `model.init` zeros, ones, small_random (the "
        f"Playground's ±0.5) and torch's default, {size.epochs_of(150)} epochs, seeds "
        f"0–{size.seeds - 1}; each trained layer's units (their weights and bias) are compared.",
        f"A constant start ends with {distinct['ones'][0][0]} distinct unit(s) in each layer "
        f"(ones; zeros leaves every hidden weight at 0, as no error reaches them) and a "
        f"validation accuracy of {mean_std(accuracy['ones'])}; random starts keep all 4 and 3 "
        f"apart and reach {mean_std(accuracy['default'])}.",
        "Supported" if constant and broken else "Partly supported (see the table)",
        table,
        save(fig, figures, "c12_symmetry.png"),
        "python -m nnkit.train -m data=circular model.hidden=[4,3] model.activation=tanh "
        "model.init=zeros,ones,small_random,default",
    )

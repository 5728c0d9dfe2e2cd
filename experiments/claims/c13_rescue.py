"""Claim 13 (after the article): residual connections and normalization carry the gradient
back through a deep sigmoid network."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, data, mean_std, save, train

DEEP = [
    "data=circular", "data.n=400", "model.hidden=[7,7,7,7,7,7,7,7,7,7]",
    "model.activation=sigmoid", "model.features=[x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2]",
    "optimizer=sgd", "optimizer.lr=0.1",
]  # fmt: skip
VARIANTS = {
    "plain": [],
    "residual": ["model.residual=true"],
    "batch norm": ["model.norm=batch"],
    "layer norm": ["model.norm=layer"],
}


def gradient_norms(net: torch.nn.Module, x, y) -> tuple[list[float], list[float]]:
    """Each layer's weight- and bias-gradient norm on the batch ``x`` (training mode); the
    bias's is the error reaching the layer, Σ dL/dz."""
    net.train()
    net.zero_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward()
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    return [float(m.weight.grad.norm()) for m in linears], [
        float(m.bias.grad.norm()) for m in linears
    ]


def claim(size: Size, figures: Path) -> Section:
    epochs = f"trainer.max_epochs={size.epochs_of(60)}"
    x, y = data("circular", n=400).train
    batch = (x[:32], y[:32])
    accuracy: dict[str, list[float]] = {name: [] for name in VARIANTS}
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    profiles = {}
    for name, options in VARIANTS.items():
        for seed in range(size.seeds):
            with tempfile.TemporaryDirectory() as folder:
                metrics = train([*DEEP, *options, epochs, f"seed={seed}"], Path(folder))
                net, _ = nnkit.load_model(Path(folder) / "checkpoints" / "last.ckpt")
            weights, biases = gradient_norms(net, *batch)
            accuracy[name].append(metrics["val/acc"])
            ratios[name].append((weights[0] / weights[-2], biases[0] / biases[-2]))
            if seed == 0:
                profiles[name] = (weights, biases)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, (weights, biases) in profiles.items():
        left.semilogy(range(1, 12), weights, "o-", label=name)
        right.semilogy(range(1, 12), biases, "o-", label=name)
    left.set(xlabel="layer (1 = input side)", ylabel="‖dL/dW‖", title="the weights' gradient")
    right.set(xlabel="layer", ylabel="‖dL/db‖", title="the error reaching each layer")
    left.legend(fontsize=7)
    table = [["10 sigmoid layers", "first / last hidden: weights", "errors (biases)", "val/acc"]]
    for name in VARIANTS:
        w = sum(r[0] for r in ratios[name]) / len(ratios[name])
        b = sum(r[1] for r in ratios[name]) / len(ratios[name])
        table.append([name, f"{w:.1e}", f"{b:.1e}", mean_std(accuracy[name])])
    mean = {name: [sum(r[k] for r in ratios[name]) / len(ratios[name]) for k in (0, 1)]
            for name in VARIANTS}  # fmt: skip
    rescued = mean["residual"][1] >= 0.1 and mean["batch norm"][0] >= 0.1
    vanished = max(mean["plain"]) <= 0.01
    return Section(
        13,
        "After the article: residual connections and normalization against the vanishing gradient",
        "A residual connection gives the error a path around every layer; normalization keeps "
        "each layer's sums where the activation's slope is not small: both let a deep "
        "sigmoid network's first layers learn.",
        f"`data=circular` (400 points), ten sigmoid hidden layers of 7 units on the 7 input "
        f"features (so every layer has its skip), SGD 0.1, {size.epochs_of(60)} epochs, seeds "
        f"0–{size.seeds - 1}: plain, `model.residual=true`, `model.norm=batch`, "
        f"`model.norm=layer`. Gradient norms per layer of the trained network on one batch of "
        f"32; the bias's gradient is the error reaching the layer (Σ dL/dz, which the size "
        f"of the layer's inputs does not scale; before a batch normalization it is 0 by "
        f"construction, so there the weights' counts).",
        f"Plain, the first layer's gradient is {mean['plain'][0]:.0e} of the last hidden "
        f"layer's. With residual connections the error reaching the first layer is "
        f"{mean['residual'][1]:.2f} of the last's; with batch normalization the weights' "
        f"gradient is {mean['batch norm'][0]:.2f} of it; both networks learn the circle. "
        f"Layer normalization alone does not rescue this one: its first layer's gradient "
        f"stays {mean['layer norm'][0]:.0e} of the last's, and it learns no more than the "
        f"plain network.",
        "Supported for residual connections and batch normalization; not for layer "
        "normalization alone"
        if rescued and vanished
        else "Partly supported (see the table)",
        table,
        save(fig, figures, "c13_rescue.png"),
        "python -m nnkit.train -m data=circular model.hidden=[7,7,7,7,7,7,7,7,7,7] "
        "model.activation=sigmoid model.features=[x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2] "
        "model.residual=false,true",
    )

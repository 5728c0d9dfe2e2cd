"""Claim 5: "100 layers without activation are equivalent to one"."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, mean_std, save, train

DEPTH_PROOF = 100
DEPTH_TRAINED = 4


def collapse(net: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The single linear map (W, b) that a stack of linear layers with identity activations
    computes: W = W_L ⋯ W_1, b folded through the same product."""
    weight = torch.eye(net.layers[0].in_features, dtype=torch.float64)
    bias = torch.zeros(net.layers[0].in_features, dtype=torch.float64)
    for layer in net.layers:
        if isinstance(layer, torch.nn.Linear):
            weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    return weight, bias


def claim(size: Size, figures: Path) -> Section:
    torch.manual_seed(0)
    deep = nnkit.build_model("mlp", 2, 1, hidden=[8] * DEPTH_PROOF, activation="identity").double()
    for layer in deep.layers:  # norm-preserving weights, so the input still matters at the end
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.orthogonal_(layer.weight)
    x = torch.randn(1000, 2, dtype=torch.float64)
    with torch.no_grad():
        weight, bias = collapse(deep)
        gap = float((deep(x) - (x @ weight.T + bias)).abs().max() / deep(x).abs().max())
    epochs = f"trainer.max_epochs={size.epochs_of(60)}"
    hidden = "[" + ",".join(["16"] * DEPTH_TRAINED) + "]"
    setups = {
        "linear (no hidden layer)": ["model=linear"],
        f"{DEPTH_TRAINED} hidden layers, identity": [
            f"model.hidden={hidden}",
            "model.activation=identity",
        ],
        f"{DEPTH_TRAINED} hidden layers, ReLU": [f"model.hidden={hidden}", "model.activation=relu"],
    }
    scores = {
        name: [
            train(["data=circular", *o, epochs, f"seed={s}"])["val/acc"] for s in range(size.seeds)
        ]
        for name, o in setups.items()
    }
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(3), [sum(v) / len(v) for v in scores.values()], color=["0.6", "C0", "C3"])
    ax.set_xticks(range(3), [n.replace(" hidden layers", "") for n in scores], fontsize=8)
    ax.set(ylabel="validation accuracy", ylim=(0.5, 1.0), title="circular data")
    table = [["model", "validation accuracy (mean ± sd)"]]
    table += [[name, mean_std(v)] for name, v in scores.items()]
    linear, identity, relu = (sum(v) / len(v) for v in scores.values())
    return Section(
        5,
        "A hundred layers without activation are one",
        "Without an activation function every layer behaves like the previous one, and 100 layers "
        "are equivalent to one: the result is always linear.",
        f"An nnkit MLP with {DEPTH_PROOF} hidden layers of 8 identity units (float64, "
        f"orthogonal weights so that no signal fades) is "
        f"collapsed into one matrix W = W_{DEPTH_PROOF + 1}⋯W_1 and one bias, and both are run on "
        f"1,000 random inputs. Then, on `data=circular`, the linear model, {DEPTH_TRAINED} hidden "
        f"layers of 16 identity units, and the same depth with ReLU are trained "
        f"({size.epochs_of(60)} epochs, seeds 0–{size.seeds - 1}).",
        f"The {DEPTH_PROOF}-layer network and its one-matrix collapse agree to a relative "
        f"{gap:.1e}: exactly one linear map. Trained, the deep identity network reaches "
        f"{identity:.2f}, no better than the linear model's {linear:.2f}; the same depth with "
        f"ReLU reaches {relu:.2f}.",
        "Supported"
        if gap < 1e-9 and relu - identity > 0.1 and abs(identity - linear) < 0.05
        else "Partly supported (see numbers)",
        table,
        save(fig, figures, "c05_depth.png"),
        f"python -m nnkit.train -m data=circular model.hidden={hidden} "
        f"model.activation=identity,relu seed=0,1,2,3,4",
    )

"""Claim 14 (after the article): dropout against overfitting on a small noisy set."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from experiments.common import Section, Size, mean_std, save, train

SMALL_NOISY = [  # 60 training points of a noisy circle, 220 to validate and 220 to test
    "data=circular", "data.n=500", "data.train_fraction=0.12", "data.noise=0.35",
    "model.hidden=[64,64]", "optimizer.lr=0.01",
]  # fmt: skip
RATES = (0.0, 0.3, 0.5)


def claim(size: Size, figures: Path) -> Section:
    epochs = f"trainer.max_epochs={size.epochs_of(300)}"
    found: dict[float, dict[str, list[float]]] = {}
    for rate in RATES:
        runs = [
            train([*SMALL_NOISY, f"model.dropout={rate}", epochs, f"seed={seed}"])
            for seed in range(size.seeds)
        ]
        found[rate] = {key: [m[key] for m in runs] for key in ("train/acc", "test/acc", "val/loss")}
        found[rate]["gap"] = [
            a - b for a, b in zip(found[rate]["train/acc"], found[rate]["test/acc"])
        ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    for ax, key, title in ((left, "gap", "train − test accuracy"), (right, "val/loss", "val/loss")):
        means = [sum(found[r][key]) / len(found[r][key]) for r in RATES]
        ax.bar([str(r) for r in RATES], means, color="C0")
        ax.set(xlabel="model.dropout", title=title)
    table = [["model.dropout", "train/acc", "test/acc", "train − test", "val/loss"]]
    table += [
        [str(r), *(mean_std(found[r][k]) for k in ("train/acc", "test/acc", "gap", "val/loss"))]
        for r in RATES
    ]
    mean = {r: {k: sum(v) / len(v) for k, v in found[r].items()} for r in RATES}
    narrower = mean[0.5]["gap"] < mean[0.0]["gap"] and mean[0.5]["val/loss"] < mean[0.0]["val/loss"]
    better = mean[0.5]["test/acc"] > mean[0.0]["test/acc"]
    return Section(
        14,
        "After the article: dropout against overfitting",
        "Dropping random hidden units in training keeps a large network from memorising a "
        "small noisy training set: it fits the training points less and the unseen ones better.",
        f"`data=circular` with noise 0.35: 60 training points, 220 to validate, 220 to test; a "
        f"2-64-64-1 ReLU network, Adam 0.01, {size.epochs_of(300)} epochs, dropout 0, 0.3 and "
        f"0.5 on both hidden layers, seeds 0–{size.seeds - 1}.",
        f"Without dropout the network fits {mean[0.0]['train/acc']:.2f} of its training points "
        f"and {mean[0.0]['test/acc']:.3f} of the test points (val/loss "
        f"{mean[0.0]['val/loss']:.2f}: confidently wrong where the noise misled it); with 0.5 "
        f"it fits {mean[0.5]['train/acc']:.2f} and {mean[0.5]['test/acc']:.3f} (val/loss "
        f"{mean[0.5]['val/loss']:.2f}). The gap narrows and the validation loss falls; the test "
        f"accuracy moves by {mean[0.5]['test/acc'] - mean[0.0]['test/acc']:+.3f}.",
        ("Supported" if better else "Partly supported: less overfitting, no better accuracy")
        if narrower
        else "Not supported at this size (see the table)",
        table,
        save(fig, figures, "c14_dropout.png"),
        "python -m nnkit.train -m data=circular data.n=500 data.train_fraction=0.12 "
        "data.noise=0.35 model.hidden=[64,64] optimizer.lr=0.01 model.dropout=0,0.3,0.5",
    )

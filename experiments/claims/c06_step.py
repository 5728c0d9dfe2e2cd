"""Claim 6: why not the step function — no gradient, no learning; an estimator fixes it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import nnkit
from experiments.common import Section, Size, mean_std, save, train

HIDDEN = 4

SETUPS = {
    "step, true derivative (ste=none)": [
        "model.activation=step",
        "+model.activation_args.ste=none",
    ],
    "step, straight-through (identity)": [
        "model.activation=step",
        "+model.activation_args.ste=identity",
    ],
    "step, straight-through (clipped)": [
        "model.activation=step",
        "+model.activation_args.ste=clipped",
    ],
    "sigmoid": ["model.activation=sigmoid"],
    "relu": ["model.activation=relu"],
}


def loss_curve(run_dir: Path) -> list[float]:
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return [e.value for e in events.Scalars("train/loss_epoch")]


def hidden_change(run_dir: Path, seed: int, activation: str) -> float:
    """How far training moved the hidden layer's weights of the replica trained from ``seed``
    (the run's seeds start at 0) from their initial values."""
    torch.manual_seed(seed)  # the run seeds torch the same way before building each replica
    start = nnkit.build_model("mlp", 2, 1, hidden=[HIDDEN], activation=activation)
    end, _ = nnkit.load_model(run_dir / "checkpoints" / "last.ckpt", replica=str(seed))
    return float((end.layers[0].weight - start.layers[0].weight).detach().abs().max())


def verdict(frozen: list[float], none: float, identity: float, clipped: float) -> str:
    if max(frozen) != 0.0:
        return "Not supported: the hidden weights moved without an estimator"
    gain = max(identity, clipped) - none
    if gain > 0.1:
        return "Supported"
    return (
        f"Partly supported: the true zero derivative freezes the hidden layer exactly, and "
        f"the estimators unfreeze it, but here the step network gains only {gain:+.2f} in "
        f"accuracy from it, far less than a smooth activation — which is the article's "
        f"reason the step was abandoned"
    )


def claim(size: Size, figures: Path) -> Section:
    epochs = f"trainer.max_epochs={size.epochs_of(60)}"
    scores: dict[str, list[float]] = {}
    moved: dict[str, list[float]] = {}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, overrides in SETUPS.items():
        activation = overrides[0].split("=")[1]
        with tempfile.TemporaryDirectory() as folder:
            metrics = train(
                [
                    "data=circular",
                    f"model.hidden=[{HIDDEN}]",
                    *overrides,
                    epochs,
                    f"trainer.replicas={size.seeds}",  # seeds 0..seeds-1, as one program
                    "logger=tensorboard",
                    "logger.figures=false",
                ],
                Path(folder),
            )
            scores[name] = [replica["val/acc"] for replica in metrics["replicas"]]
            moved[name] = [
                hidden_change(Path(folder), seed, activation) for seed in range(size.seeds)
            ]
            ax.plot(loss_curve(Path(folder)), label=name)
    ax.set(
        xlabel="epoch",
        ylabel="training loss (BCE)",
        title=f"circular data, mean over seeds 0–{size.seeds - 1}",
    )
    ax.legend(fontsize=7)
    table = [
        [
            "hidden activation",
            "validation accuracy (mean ± sd)",
            "largest change of a hidden weight",
        ]
    ]
    table += [[name, mean_std(v), f"{max(moved[name]):.3g}"] for name, v in scores.items()]
    means = {name: sum(v) / len(v) for name, v in scores.items()}
    none, identity = means[next(iter(SETUPS))], means["step, straight-through (identity)"]
    return Section(
        6,
        "Why not the step function",
        "The step is not differentiable where it jumps and flat elsewhere, so its derivative "
        "cannot guide the adjustments; this is why it is no longer used.",
        f"`data=circular`, {HIDDEN} hidden units (as few as the article's networks), BCE, Adam "
        f"0.01, {size.epochs_of(60)} epochs, seeds 0–{size.seeds - 1} trained together as "
        f"replicas (`trainer.replicas={size.seeds}`): the step with its true "
        f"zero derivative, with two straight-through estimators, and sigmoid and ReLU. The last "
        f"column compares the trained hidden weights with the same seed's initial ones.",
        f"With the true derivative no error reaches the hidden layer: its weights never move "
        f"(largest change {max(moved[next(iter(SETUPS))]):.3g}); only the output layer learns, on "
        f"{HIDDEN} frozen random half-planes, and accuracy stays at {none:.2f}. With a "
        f"straight-through estimator the hidden weights move and the network reaches "
        f"{identity:.2f} (identity) or {means['step, straight-through (clipped)']:.2f} "
        f"(clipped); sigmoid and ReLU reach {means['sigmoid']:.2f} and {means['relu']:.2f}. "
        f"(With many hidden units, random "
        f"frozen step features alone can already carve the circle, so the gap narrows.)",
        verdict(
            moved[next(iter(SETUPS))], none, identity, means["step, straight-through (clipped)"]
        ),
        table,
        save(fig, figures, "c06_step.png"),
        "python -m nnkit.train -m experiment=step_estimators "
        "+model.activation_args.ste=none,identity,clipped trainer.replicas=5",
    )

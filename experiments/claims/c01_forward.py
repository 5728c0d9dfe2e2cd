"""Claim 1: the forward pass of the article's 2-2-1 network, with its numbers."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

import nnkit
from experiments.common import Section, Size, save

# Hidden unit 1 as the article gives it; unit 2's weights are not given, these receive -0.3.
EXAMPLE = {"w_hidden": [[1.0, 0.5], [-0.5, 0.4]], "b_hidden": [2.0, 0.0]}
# The recap's numbers (3.45, -0.45, 6.9) follow if the first bias is 2.2 and unit 2 gets -0.45.
RECAP = {"w_hidden": [[1.0, 0.5], [-0.65, 0.4]], "b_hidden": [2.2, 0.0]}
OUTPUT = [[2.0, -1.25]]


def forward(weights: dict) -> dict[str, list[float]]:
    """Every intermediate value of nnkit's 2-2-1 ReLU/sigmoid network on input (1, 0.5)."""
    net = nnkit.build_model("mlp", 2, 1, hidden=[2], activation="relu").double()
    hidden, relu, output = net.layers
    with torch.no_grad():
        hidden.weight.copy_(torch.tensor(weights["w_hidden"]))
        hidden.bias.copy_(torch.tensor(weights["b_hidden"]))
        output.weight.copy_(torch.tensor(OUTPUT))
        output.bias.zero_()
        x = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
        received = hidden(x)
        activated = relu(received)
        out_in = output(activated)
        answer = nnkit.build_activation("sigmoid")(out_in)
    return {
        "received": received[0].tolist(),
        "activated": activated[0].tolist(),
        "output_in": out_in[0].tolist(),
        "output": answer[0].tolist(),
    }


def draw(values: dict, title: str, ax) -> None:
    positions = {"x1": (0, 1), "x2": (0, 0), "a1": (1, 1), "a2": (1, 0), "O": (2, 0.5)}
    for a in ("x1", "x2"):
        for b in ("a1", "a2"):
            ax.plot(*zip(positions[a], positions[b]), color="0.7", zorder=0)
    for b in ("a1", "a2"):
        ax.plot(*zip(positions[b], positions["O"]), color="0.7", zorder=0)
    labels = {
        "x1": "x1 = 1",
        "x2": "x2 = 0.5",
        "a1": f"{values['received'][0]:.2f} → {values['activated'][0]:.2f}",
        "a2": f"{values['received'][1]:.2f} → {values['activated'][1]:.2f}",
        "O": f"{values['output_in'][0]:.2f} → {values['output'][0]:.4f}",
    }
    for name, (px, py) in positions.items():
        ax.scatter([px], [py], s=900, color="#cfe2f3", edgecolors="k", zorder=1)
        ax.annotate(labels[name], (px, py - 0.22), ha="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    ax.set_ylim(-0.45, 1.25)
    ax.set_xlim(-0.35, 2.45)


def claim(size: Size, figures: Path) -> Section:
    example, recap = forward(EXAMPLE), forward(RECAP)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    draw(example, "the worked example (3.25, -0.3, 6.5)", axes[0])
    draw(recap, "the recap (3.45, -0.45, 6.9)", axes[1])
    table = [
        [
            "version",
            "a1 receives",
            "a1 after ReLU",
            "a2 receives",
            "a2 after ReLU",
            "O receives",
            "sigmoid(O)",
        ]
    ]
    for name, v in (("example", example), ("recap", recap)):
        table.append(
            [
                name,
                *(
                    f"{n:.4g}"
                    for n in (
                        v["received"][0],
                        v["activated"][0],
                        v["received"][1],
                        v["activated"][1],
                        v["output_in"][0],
                        v["output"][0],
                    )
                ),
            ]
        )
    ok = (
        abs(example["received"][0] - 3.25) < 1e-12
        and example["activated"][1] == 0.0
        and abs(example["output_in"][0] - 6.5) < 1e-12
        and round(example["output"][0], 4) == 0.9985
    )
    return Section(
        1,
        "Forward pass, worked example",
        "Inputs (1, 0.5) with weights (1, 0.5) and bias 2 give 3.25, which ReLU keeps; the second "
        "hidden unit receives -0.3 and ReLU crushes it to 0; weights 2 and -1.25 give 6.5 at the "
        "output, and the sigmoid answers about 1.",
        "nnkit's `mlp` (2-2-1, ReLU hidden, sigmoid read at the output) with the article's "
        "weights set by hand, in float64. The second unit's weights are not in the article; "
        "(-0.5, 0.4) make it receive -0.3. The recap repeats the example as 3.45, -0.45 and 6.9, "
        "which needs a first bias of 2.2 (and second-unit weights giving -0.45): both are shown.",
        f"The example reproduces exactly: 3.25 → 3.25, -0.3 → 0, 6.5 → {example['output'][0]:.4f}. "
        f"The recap's numbers come from different weights (bias 2.2): 3.45 → 3.45, -0.45 → 0, "
        f"6.9 → {recap['output'][0]:.4f}. The two passages are inconsistent with each other; "
        f"each is internally consistent.",
        "Supported" if ok else "Not reproduced",
        table,
        save(fig, figures, "c01_forward.png"),
    )

"""Input features, as the TensorFlow Playground offers them for points of the plane: the
network's first layer reads chosen functions of the two inputs instead of the inputs alone.

``model.features=[x1,x2,x1_sq,x2_sq]`` lets even a linear model draw a circle (the squares
make it a plane in feature space). The expansion is part of the model: predictions, figures,
checkpoints and ``nnkit.explain`` all take the two raw inputs.

>>> expand = Features(["x1", "x1x2", "sin_x2"])
>>> expand(torch.tensor([[2.0, 3.0]]))
tensor([[2.0000, 6.0000, 0.1411]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nnkit.registry import did_you_mean

FEATURES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: torch.sin(x1),
    "sin_x2": lambda x1, x2: torch.sin(x2),
}


def check_features(names: Sequence[str], in_features: int) -> list[str]:
    """``names`` as a list, or a one-line ``ValueError`` naming what is wrong."""
    names = list(names)
    if in_features != 2:
        raise ValueError(
            f"model.features needs data with two inputs (x1, x2); this has {in_features}"
        )
    if not names:
        raise ValueError(f"model.features is empty (choose from: {', '.join(FEATURES)})")
    for name in names:
        if name not in FEATURES:
            hint = did_you_mean(str(name), FEATURES)
            raise ValueError(f"unknown feature '{name}'{hint} (choose from: {', '.join(FEATURES)})")
    if len(set(names)) != len(names):
        raise ValueError(f"model.features={names} names a feature twice")
    return names


class Features(nn.Module):
    """The chosen features of ``(..., 2)`` inputs, as ``(..., len(names))``."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = check_features(names, 2)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = x[..., 0], x[..., 1]
        return torch.stack([FEATURES[name](x1, x2) for name in self.names], dim=-1)

    def extra_repr(self) -> str:
        return ", ".join(self.names)

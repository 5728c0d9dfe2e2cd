"""``OPTIMIZERS``: how the weights follow their gradients, one registry entry each.

An entry takes the parameters first, then its own typed settings; the config's ``optimizer``
keys are checked against that signature, so a key that belongs to another optimizer
(``optimizer=adam optimizer.momentum=0.9``) is refused instead of ignored.

>>> net = torch.nn.Linear(2, 1)
>>> build_optimizer("sgd", net.parameters(), lr=0.1, momentum=0.9)
SGD (
...
>>> OPTIMIZERS.names()
['adam', 'adamw', 'sgd']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

OPTIMIZERS: Registry[Any] = Registry(
    "optimizer", discover=entry_point_discovery("nnkit.optimizers")
)

Params = Iterable[torch.nn.Parameter]


@OPTIMIZERS.register("sgd")
def sgd(
    params: Params, lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """The article's gradient descent: every weight steps against its gradient, scaled by the
    learning rate ``lr``; ``momentum`` keeps a running direction, ``weight_decay`` an L2 pull."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def adam(
    params: Params,
    lr: float = 0.01,
    betas: Sequence[float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    fused: bool = True,
) -> torch.optim.Optimizer:
    """Adam: steps scaled per weight by running averages of the gradient and its square.
    ``fused`` uses torch's single-kernel update (fewer, larger operations per step)."""
    return torch.optim.Adam(
        params, lr=lr, betas=_pair(betas), weight_decay=weight_decay, fused=fused
    )


@OPTIMIZERS.register("adamw")
def adamw(
    params: Params,
    lr: float = 0.01,
    betas: Sequence[float] = (0.9, 0.999),
    weight_decay: float = 0.01,
    fused: bool = True,
) -> torch.optim.Optimizer:
    """AdamW: Adam with the weight decay applied to the weights directly, not to the gradient."""
    return torch.optim.AdamW(
        params, lr=lr, betas=_pair(betas), weight_decay=weight_decay, fused=fused
    )


def _pair(betas: Sequence[float]) -> tuple[float, float]:
    if len(betas) != 2:
        raise ValueError(f"betas={list(betas)} must be two numbers, e.g. [0.9, 0.999]")
    return float(betas[0]), float(betas[1])


def build_optimizer(name_or_obj: Any, params: Params, **settings: Any) -> torch.optim.Optimizer:
    """An optimizer over ``params`` from a registry name (or a builder) and its settings."""
    return OPTIMIZERS.get(name_or_obj)(params, **settings)

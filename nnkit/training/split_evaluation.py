"""What the engine's epoch loop asks of the engine beyond its training calls: a whole split's
outputs and cost, by the native program where it trains, and the program bound to the run's
state for several epochs at once (``EpochLoop.validate`` and ``EpochLoop.epochs``, whose
example in ``nnkit.training.epoch_loop`` runs the evaluation).
"""

from __future__ import annotations

import torch
from torch import Tensor

from nnkit.maths.extras import evaluating
from nnkit.native.program import NativeSteps
from nnkit.training.engine import Engine
from nnkit.training.native_steps import bind


def native_bound(engine: Engine) -> NativeSteps | None:
    """The native program bound to the weights and the optimizer's state now, or None (not
    the native path, or the optimizer's state not made yet: its first step is torch's)."""
    if engine.native is None:
        return None
    return bind(engine.native.program, engine.native.params(), engine.optimizer)


@torch.no_grad()
def evaluate_split(engine: Engine, x: Tensor, y: Tensor, rows: int = 0) -> tuple[Tensor, Tensor]:
    """A whole split's outputs and its cost (one network), ``rows`` at a time (0: all at once)
    and each part's cost weighted by its rows, as Lightning's validation loop averages its
    batches."""
    rows = rows or len(x)
    parts = [split_outputs(engine, x[i : i + rows]) for i in range(0, len(x), rows)]
    if len(parts) == 1:
        return parts[0], engine.objective(parts[0], y)
    costs = [
        engine.objective(part, y[i * rows : i * rows + len(part)]) * len(part)
        for i, part in enumerate(parts)
    ]
    return torch.cat(parts), torch.stack(costs).sum() / len(x)


def split_outputs(engine: Engine, x: Tensor) -> Tensor:
    """The network's raw outputs for ``x``: the native program's where it trains."""
    if engine.native is None:
        with evaluating(engine.net):
            return engine.net(x)
    params = engine.native.params()
    return engine.native.program.maps(params, engine.net.expand(x))[:, -engine.outputs :]

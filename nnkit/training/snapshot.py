"""A run's state put aside and put back: the weights, the optimizer's state tensors and the
learning-rate schedule's state — the best data epoch's, for best.ckpt, or the epoch an early
stop ends at (``nnkit.training.epoch_loop``).

>>> net = torch.nn.Linear(2, 1)
>>> kept = Snapshot.of(list(net.parameters()))
>>> _ = torch.nn.init.zeros_(net.weight)
>>> kept.put()
>>> bool(net.weight.abs().sum() > 0)
True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.training.engine import Engine
from nnkit.training.schedule import Schedule


class Snapshot:
    """Copies of a run's state tensors (weights, the optimizer's state) and of its learning-rate
    schedule's state, to be put back: the best epoch's, for best.ckpt, or the epoch an early
    stop ends at."""

    def __init__(
        self,
        targets: list[Tensor],
        values: list[Tensor],
        schedule: Schedule | None = None,
        schedule_state: dict[str, Any] | None = None,
    ) -> None:
        self.targets, self.values = targets, values
        self.schedule, self.schedule_state = schedule, schedule_state or {}

    @classmethod
    def of(cls, targets: list[Tensor], schedule: Schedule | None = None) -> Snapshot:
        """The tensors' values (and the schedule's state) now."""
        state = schedule.state() if schedule is not None else None
        return cls(targets, [t.detach().clone() for t in targets], schedule, state)

    @torch.no_grad()
    def put(self) -> None:
        """Write the values back into the tensors, in place, and the schedule's state."""
        for target, value in zip(self.targets, self.values, strict=True):
            target.copy_(value)
        if self.schedule is not None:
            self.schedule.load(self.schedule_state)


def live_state(engine: Engine) -> list[Tensor]:
    """The tensors that make a run's state: the network's parameters and buffers (batch
    normalization's running statistics, the dropout masks drawn) and every tensor of the
    optimizer's state."""
    state = [t for each in engine.optimizer.state.values() for t in each.values()]
    net = engine.net
    return [*net.parameters(), *net.buffers(), *(t for t in state if isinstance(t, Tensor))]

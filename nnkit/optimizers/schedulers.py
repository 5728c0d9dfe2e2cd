"""``SCHEDULERS``: how the learning rate moves while a run trains — ``scheduler=NAME`` — one
registry entry each, built on ``torch.optim.lr_scheduler`` (nothing here computes a rate).

An entry takes the optimizer and the run's length in the schedule's intervals (``total``:
epochs, or optimizer steps with ``scheduler.interval=step``), then its own typed settings,
and returns torch's scheduler (``None`` for ``none``: the rate stays the optimizer's):

- ``step``: times ``gamma`` every ``step_size`` intervals (``StepLR``);
- ``multistep``: times ``gamma`` at each of ``milestones`` (``MultiStepLR``);
- ``exponential``: times ``gamma`` every interval (``ExponentialLR``);
- ``cosine``: half a cosine from the rate down to ``eta_min`` over the run (``CosineAnnealingLR``);
- ``linear_warmup``: from ``start_factor`` times the rate up to it over ``warmup`` intervals,
  then constant (``LinearLR``);
- ``warmup_cosine``: that warm-up, then the cosine over the rest of the run (``SequentialLR``);
- ``plateau``: times ``factor`` once ``monitor`` has not improved for ``patience`` epochs
  (``ReduceLROnPlateau``; epochs only: it waits for a validation).

>>> net = torch.nn.Linear(2, 1)
>>> sgd = torch.optim.SGD(net.parameters(), lr=1.0)
>>> cosine = build_scheduler("cosine", sgd, total=4)
>>> [round(sgd.param_groups[0]["lr"], 3) for _ in range(5) if cosine.step() or True]
[0.854, 0.5, 0.146, 0.0, 0.146]
>>> SCHEDULERS.names()  # doctest: +NORMALIZE_WHITESPACE
['cosine', 'exponential', 'linear_warmup', 'multistep', 'none', 'plateau', 'step',
 'warmup_cosine']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.optim import lr_scheduler

from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

SCHEDULERS: Registry[Any] = Registry(
    "scheduler", discover=entry_point_discovery("nnkit.schedulers")
)
INTERVALS = ("epoch", "step")  # scheduler.interval: when the scheduler steps
SCHEDULE_KEYS = {"interval": "epoch", "total": 0}  # the group's own keys and their defaults

Optimizer = torch.optim.Optimizer
Scheduler = lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau


@SCHEDULERS.register("none")
def none(optimizer: Optimizer, total: int) -> None:
    """No schedule: the optimizer's rate from the first step to the last."""
    return None


@SCHEDULERS.register("step")
def step(
    optimizer: Optimizer, total: int, step_size: int = 30, gamma: float = 0.1
) -> lr_scheduler.LRScheduler:
    """The rate times ``gamma`` every ``step_size`` intervals."""
    return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


@SCHEDULERS.register("multistep")
def multistep(
    optimizer: Optimizer, total: int, milestones: Sequence[int] = (50, 75), gamma: float = 0.1
) -> lr_scheduler.LRScheduler:
    """The rate times ``gamma`` at each of ``milestones`` (intervals, increasing)."""
    return lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


@SCHEDULERS.register("exponential")
def exponential(optimizer: Optimizer, total: int, gamma: float = 0.95) -> lr_scheduler.LRScheduler:
    """The rate times ``gamma`` every interval."""
    return lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


@SCHEDULERS.register("cosine")
def cosine(optimizer: Optimizer, total: int, eta_min: float = 0.0) -> lr_scheduler.LRScheduler:
    """Half a cosine from the rate down to ``eta_min`` over the run's ``total`` intervals."""
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total, 1), eta_min=eta_min)


@SCHEDULERS.register("linear_warmup")
def linear_warmup(
    optimizer: Optimizer, total: int, warmup: int = 5, start_factor: float = 0.1
) -> lr_scheduler.LRScheduler:
    """From ``start_factor`` times the rate up to the rate over ``warmup`` intervals, then
    constant: large early steps, while the weights are random, are what a warm-up avoids."""
    return lr_scheduler.LinearLR(optimizer, start_factor, 1.0, total_iters=warmup)


@SCHEDULERS.register("warmup_cosine")
def warmup_cosine(
    optimizer: Optimizer,
    total: int,
    warmup: int = 5,
    start_factor: float = 0.1,
    eta_min: float = 0.0,
) -> lr_scheduler.LRScheduler:
    """``linear_warmup``'s ``warmup`` intervals, then ``cosine`` over the rest of the run."""
    rising = lr_scheduler.LinearLR(optimizer, start_factor, 1.0, total_iters=warmup)
    falling = lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(total - warmup, 1), eta_min=eta_min
    )
    return lr_scheduler.SequentialLR(optimizer, [rising, falling], milestones=[warmup])


class Plateau(lr_scheduler.ReduceLROnPlateau):
    """torch's ``ReduceLROnPlateau`` that knows which logged metric it watches (``monitor``)."""

    def __init__(self, optimizer: Optimizer, monitor: str, **settings: Any) -> None:
        super().__init__(optimizer, **settings)
        self.monitor = monitor


@SCHEDULERS.register("plateau")
def plateau(
    optimizer: Optimizer,
    total: int,
    monitor: str = "val/loss",
    mode: str = "auto",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    min_lr: float = 0.0,
) -> Plateau:
    """The rate times ``factor`` once ``monitor`` (a logged metric) has not improved by
    ``threshold`` for ``patience`` epochs, down to ``min_lr``; ``mode`` auto maximises
    accuracies and r2 and minimises the rest, as ``objective`` does."""
    if mode == "auto":
        mode = "max" if monitor.endswith(("acc", "r2")) else "min"
    return Plateau(
        optimizer, monitor, mode=mode, factor=factor, patience=patience,
        threshold=threshold, min_lr=min_lr,
    )  # fmt: skip


def build_scheduler(
    name_or_obj: Any, optimizer: Optimizer, total: int, interval: str = "epoch", **settings: Any
) -> Scheduler | None:
    """The scheduler named ``name_or_obj`` (or built by it) over ``optimizer``, for a run of
    ``total`` intervals, stepped every ``interval`` (``plateau`` only every epoch)."""
    scheduler = SCHEDULERS.get(name_or_obj)(optimizer, total, **settings)
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau) and interval != "epoch":
        raise ValueError(
            f"it follows a validation, once an epoch: scheduler.interval={interval} is not "
            "valid (choose from: epoch)"
        )
    return scheduler

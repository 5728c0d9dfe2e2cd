"""A run's learning-rate schedule as the engine steps it: torch's scheduler
stepped after every optimizer step (``scheduler.interval=step``) or every data epoch, whichever
path trains.

The eager steps read the optimizer's rate at each step; the native program takes the rates of
a whole call at once (``step_rates``: the scheduler stepped through the call's steps ahead of
it, as it would have been after each one), and its several-epoch calls take every epoch's
(``plan``: the rates and the scheduler's state after each epoch, for best.ckpt and early
stopping). ``plateau`` waits for each epoch's validation, so those calls take one epoch.

>>> net = torch.nn.Linear(2, 1)
>>> sgd = torch.optim.SGD(net.parameters(), lr=1.0)
>>> schedule = Schedule.build({"name": "step", "interval": "step", "total": 0,
...                            "step_size": 2, "gamma": 0.5}, sgd, epochs=10, steps=40)
>>> schedule.step_rates(5).tolist(), sgd.param_groups[0]["lr"]
([1.0, 1.0, 0.5, 0.5, 0.25], 0.25)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError
from nnkit.optimizers.schedulers import SCHEDULE_KEYS, Plateau, Scheduler, build_scheduler


@dataclass
class EpochPlan:
    """The rates of the next ``count`` data epochs' steps (None: the optimizer's, unchanged)
    and the schedule's state after each of them (None where it follows a validation)."""

    count: int
    rates: Tensor | None
    states: list[dict[str, Any]] | None


class Schedule:
    """``scheduler`` (torch's, or None: no schedule) over ``optimizer``, stepped per ``interval``
    ("epoch" or "step")."""

    def __init__(
        self,
        scheduler: Scheduler | None,
        optimizer: torch.optim.Optimizer,
        interval: str,
        total: int = 0,
    ) -> None:
        self.scheduler, self.optimizer, self.interval = scheduler, optimizer, interval
        self.total = total  # the run's length in intervals, as the scheduler was built for

    @classmethod
    def build(
        cls,
        section: Mapping[str, Any] | None,
        optimizer: torch.optim.Optimizer,
        epochs: int,
        steps: int,
    ) -> Schedule:
        """The schedule a config's ``scheduler`` section names, for a run of ``epochs`` data
        epochs and ``steps`` optimizer steps (``scheduler.total`` overrides the one its
        interval counts)."""
        if not section:
            return cls(None, optimizer, "epoch")
        settings = {k: v for k, v in section.items() if k != "name" and k not in SCHEDULE_KEYS}
        interval = section.get("interval", "epoch")
        total = int(section.get("total") or (steps if interval == "step" else epochs))
        scheduler = build_scheduler(section["name"], optimizer, total, interval, **settings)
        return cls(scheduler, optimizer, interval, total)

    @property
    def active(self) -> bool:
        """Whether the rate moves at all."""
        return self.scheduler is not None

    @property
    def per_step(self) -> bool:
        """Whether the rate moves after every optimizer step."""
        return self.active and self.interval == "step"

    @property
    def watches(self) -> bool:
        """Whether each step of the schedule waits for a metric (``plateau``)."""
        return isinstance(self.scheduler, Plateau)

    @property
    def lr(self) -> float:
        """The rate the next step takes."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step_taken(self) -> None:
        """After an optimizer step: the rate of the next one."""
        if self.per_step:
            self._step()

    def step_rates(self, count: int) -> Tensor | None:
        """The rates of the next ``count`` optimizer steps, the scheduler stepped after each
        as ``step_taken`` steps it (None where no rate moves within them)."""
        if not self.per_step:
            return None
        rates = []
        for _ in range(count):
            rates.append(self.lr)
            self._step()
        return torch.tensor(rates, dtype=torch.float64)

    def epoch_ended(self, metrics: Mapping[str, Any]) -> None:
        """After a data epoch, with its ``metrics``: the rate of the next epoch. ``plateau``
        steps where its metric was logged (validation can be every few epochs); a metric the
        run never logs is refused with the ones it does."""
        if not self.active or self.per_step:
            return
        if not self.watches:
            self._step()
            return
        monitor = self.scheduler.monitor  # type: ignore[union-attr]  # a Plateau
        if monitor in metrics:
            self._step(float(metrics[monitor]))
        elif any(key.startswith(monitor.partition("/")[0] + "/") for key in metrics):
            known = ", ".join(sorted(k for k in metrics if not k.endswith(("_min", "_max"))))
            raise ConfigError(
                f"scheduler.monitor={monitor!r} is not a metric this run logs (valid: {known})"
            )

    def plan(self, count: int, steps_per_epoch: int) -> EpochPlan:
        """The next ``count`` data epochs' rates, the scheduler stepped through them (its state
        after each kept); one epoch where the schedule waits for its validation."""
        if not self.active:
            return EpochPlan(count, None, None)
        if self.watches:
            return EpochPlan(1, None, None)
        rates: list[float] = []
        states = []
        for _ in range(count):
            for _ in range(steps_per_epoch):
                rates.append(self.lr)
                self.step_taken()
            if not self.per_step:
                self._step()
            states.append(self.state())
        return EpochPlan(count, torch.tensor(rates, dtype=torch.float64), states)

    def _step(self, metric: float | None = None) -> None:
        assert self.scheduler is not None
        if metric is None:
            self.scheduler.step()
        elif math.isfinite(metric):
            self.scheduler.step(metric)  # type: ignore[arg-type]

    def state(self) -> dict[str, Any]:
        """The scheduler's state and the rate it set, as a copy (empty without a schedule)."""
        if self.scheduler is None:
            return {}
        return {"scheduler": copy.deepcopy(self.scheduler.state_dict()), "lr": self.lr}

    def load(self, state: Mapping[str, Any]) -> None:
        """Stand where ``state()`` was taken: the scheduler's state and the optimizer's rate."""
        if self.scheduler is None or not state:
            return
        self.scheduler.load_state_dict(copy.deepcopy(state["scheduler"]))
        for group in self.optimizer.param_groups:
            group["lr"] = state["lr"]

    def rescale(self, lr: float) -> None:
        """A new base rate (the page's): every rate of the schedule, past and to come, scaled
        by the new base over the old, so the schedule goes on from where it stands."""
        groups = self.optimizer.param_groups
        if not self.active:
            for group in groups:
                group["lr"] = lr
            return
        base = float(groups[0].get("initial_lr", groups[0]["lr"]))
        ratio = lr / base if base else 1.0
        for group in groups:
            group["lr"], group["initial_lr"] = group["lr"] * ratio, lr
        for each in _schedulers(self.scheduler):
            if hasattr(each, "base_lrs"):
                each.base_lrs = [lr for _ in each.base_lrs]
            if hasattr(each, "_last_lr"):
                each._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _schedulers(scheduler: Any) -> list[Any]:
    """A scheduler and those it chains (``SequentialLR``'s)."""
    if scheduler is None:
        return []
    return [scheduler, *getattr(scheduler, "_schedulers", [])]

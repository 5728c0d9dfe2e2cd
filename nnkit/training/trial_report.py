"""A search trial's reports: after every validation the objective goes to the Optuna study
(its intermediate values), and when the study's pruner says the trial is hopeless training
stops there (``last.ckpt`` is written at that epoch's end, as at any stop)."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl

from nnkit.search.trial import TrialLink


class TrialReport(pl.Callback):
    """Report ``monitor`` to ``link``'s trial each validation; ``pruned_at`` is the epoch the
    pruner stopped the trial at, None while it runs on."""

    def __init__(self, link: TrialLink, monitor: str) -> None:
        self.link, self.monitor = link, monitor
        self.pruned_at: int | None = None
        self.pruned_value: float | None = None

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        logged = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or logged is None or not trainer.is_global_zero:
            return
        value = float(logged)
        if math.isfinite(value) and self.link.report(value, trainer.current_epoch):
            self.pruned_at, self.pruned_value = trainer.current_epoch, value
            trainer.should_stop = True

    def outcome(self) -> dict[str, Any] | None:
        """What ``metrics.json`` records of a pruned trial (None if it was not pruned)."""
        if self.pruned_at is None:
            return None
        return {"epoch": self.pruned_at, "trial": self.link.number, "value": self.pruned_value}

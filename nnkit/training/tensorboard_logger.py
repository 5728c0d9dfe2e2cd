"""The TensorBoard logger of nnkit's runs: Lightning's, whose scalars go out as one event per
step through ``nnkit.training.scalar_events`` (some ten times cheaper than one event per
scalar); figures, the graph and hyperparameters still through its ``SummaryWriter``.

>>> import tempfile
>>> from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
>>> logger = TensorBoardRows(tempfile.mkdtemp(), name="tensorboard", version="")
>>> logger.log_metrics({"train/loss_epoch": 0.5, "epoch": 0}, step=25)
>>> logger.finalize("success")
>>> run = EventAccumulator(logger.log_dir)
>>> _ = run.Reload()
>>> [(s.step, s.value) for s in run.Scalars("train/loss_epoch")]
[(25, 0.5)]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from torch import Tensor

from nnkit.training.scalar_events import ScalarEvents


class TensorBoardRows(TensorBoardLogger):
    """``TensorBoardLogger(save_dir, name, version)`` without the hp_metric placeholder,
    writing each ``log_metrics`` call's scalars as one event."""

    def __init__(self, save_dir: str, name: str, version: str) -> None:
        super().__init__(save_dir=save_dir, name=name, version=version, default_hp_metric=False)
        self._rows: ScalarEvents | None = None

    @property
    def rows(self) -> ScalarEvents:
        """The event file the scalars go to, in the logger's folder."""
        if self._rows is None:
            self._rows = ScalarEvents(self.log_dir)
        return self._rows

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Numbers (and one-element tensors) as one event at ``step``; a dict of numbers as
        Lightning writes it (one TensorBoard run per key)."""
        plain: dict[str, float] = {}
        for key, value in metrics.items():
            if isinstance(value, float | int):
                plain[key] = float(value)
            elif isinstance(value, Tensor):
                plain[key] = float(value.item())
            else:
                super().log_metrics({key: value}, step)
        if plain:
            self.rows.write(plain, step or 0)

    @rank_zero_only
    def save(self) -> None:
        super().save()
        if self._rows is not None:
            self._rows.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Lightning's end of a stage (fit, test): the rows flushed, the file kept open for
        the next stage's."""
        super().finalize(status)
        if self._rows is not None:
            self._rows.flush()

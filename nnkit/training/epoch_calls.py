"""Lightning's side of the engine's epoch loop (``nnkit.training.epoch_loop``): one training
call of Lightning runs data epochs for up to ``CALL_SECONDS``, and everything users rely on
still counts data epochs.

- every data epoch's metrics go to the loggers (TensorBoard, ``metrics.csv``) with its
  ``epoch``, as Lightning's loop writes them; the latest reach ``trainer.callback_metrics``;
- ``trainer.max_epochs`` and ``max_steps`` end the run at the data epoch (and step) they name;
- best.ckpt and early stopping follow the objective per data epoch (``Watch``): the best
  epoch's weights are kept in memory and written by ``BestCheckpoint`` at most every
  ``trainer.checkpoint_interval_s``, at the end and when a run is stopped;
- SIGTERM, Ctrl-C and SLURM's requeue signal end the call at the end of the data epoch under
  way, inside the native program's call too (``nnkit.training.signals``), so last.ckpt falls
  between two data epochs and a resumed run continues bit for bit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytorch_lightning as pl
import torch

from nnkit.training.divergence import check_losses, check_weights
from nnkit.training.engine import Engine
from nnkit.training.epoch_loop import Epoch, EpochLoop, Watch
from nnkit.training.signals import deferred_interrupt
from nnkit.training.snapshot import Snapshot


class TrainingModule(Protocol):
    """What the epoch calls need of their LightningModule (``NNKitModule``)."""

    engine: Engine
    net: Any
    optimizer_cfg: dict[str, Any]

    @property
    def trainer(self) -> Any: ...

    @property
    def global_step(self) -> int: ...

    @property
    def loggers(self) -> Any: ...

    def steps_left(self, wanted: int) -> int: ...

    def count_steps(self, steps: int) -> None: ...

    def grad_norms(self, last: Any) -> dict[str, float]: ...

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None: ...


CALL_SECONDS = 0.25  # how long one Lightning call trains: its hooks are paid once per call
CHUNK_SECONDS = 0.01  # how long one call of the native program runs its epochs
MAX_CHUNK = 512  # the most epochs in one call of the native program


@dataclass
class BestState:
    """The best data epoch so far: its state (weights, optimizer state), its metrics, and
    when."""

    snapshot: Snapshot
    metrics: dict[str, float]
    epoch: int  # counted from 0
    step: int
    written: bool = False


@dataclass
class EpochCalls:
    """Runs data epochs of ``loop`` for ``module`` inside Lightning's training calls,
    watching the objective with ``watch``; ``chunk`` is how many epochs the native program
    runs in one call, adapted to take about ``CHUNK_SECONDS``."""

    module: TrainingModule
    loop: EpochLoop
    watch: Watch
    latest: dict[str, float] = field(default_factory=dict)
    best: BestState | None = None
    chunk: int = 1

    @property
    def epochs_done(self) -> int:
        """Data epochs trained to their end (every one takes the same steps)."""
        return self.module.global_step // self.loop.steps_per_epoch

    def run(self) -> None:
        """One Lightning call: data epochs until ``CALL_SECONDS`` have passed, the run is done
        or a signal asks it to stop (at the end of the data epoch under way)."""
        trainer = self.module.trainer
        deadline = time.monotonic() + CALL_SECONDS
        with deferred_interrupt() as interrupt:
            while (left := min(self._epochs_left(), self._to_next_tenth())) > 0:
                began = time.monotonic()
                done = self._epochs(min(self.chunk, left), interrupt.stop_fd)
                interrupt.drain()
                self.chunk = _next_chunk(done, time.monotonic() - began)
                if interrupt.requested or trainer.received_sigterm:
                    break
                if done == left or time.monotonic() >= deadline:
                    break
        if self._epochs_left() == 0:
            trainer.should_stop = True
        for key, value in self.latest.items():
            self.module.log(key, value, logger=False, on_step=True, on_epoch=False)

    def _to_next_tenth(self) -> int:
        """Data epochs to the next tenth of the run: a call ends there too, so that the
        progress Lightning's hooks show (``PlainProgress``' lines) lands on it as it does with
        Lightning's loop."""
        max_epochs = self.module.trainer.max_epochs
        if max_epochs is None or max_epochs < 0:
            return 2**31
        tenth = max(1, max_epochs // 10)
        return tenth - self.epochs_done % tenth

    def _epochs_left(self) -> int:
        """Whole or partial data epochs the run has still to train."""
        module, per = self.module, self.loop.steps_per_epoch
        if self.watch.stopped or module.steps_left(per) == 0:
            return 0
        max_epochs = module.trainer.max_epochs
        unbounded = max_epochs is None or max_epochs < 0
        return 2**31 if unbounded else max(0, max_epochs - self.epochs_done)

    def _epochs(self, wanted: int, stop_fd: int = -1) -> int:
        """Up to ``wanted`` data epochs, recorded one by one; how many ran (fewer where a
        signal made ``stop_fd`` readable, or where early stopping ended the run inside the
        program's call: the state is put back to there)."""
        module, start, per = self.module, self.epochs_done, self.loop.steps_per_epoch
        whole = min(wanted, module.steps_left(wanted * per) // per)
        found = self.loop.epochs(start, whole, stop_fd) if whole else None
        if found is None:
            steps = module.steps_left(per)
            found = [self.loop.epoch(start, steps if steps < per else 0)]
        finite = [epoch.finite for epoch in found]
        sane = found[: finite.index(False)] if False in finite else found
        done, step = self._record_all(start, sane)
        lr = module.optimizer_cfg.get("lr")
        module.count_steps(step - module.global_step)
        if self.watch.stopped:
            if done < len(found):
                self.loop.state_after(found[done - 1]).put()
            return done
        if len(sane) < len(found):
            check_losses(found[len(sane)].losses, step + found[len(sane)].steps, start + done, lr)
        if any(key.startswith("val/") for key in found[-1].values):
            check_weights(module.net, module.global_step, lr)
        return done

    def _record_all(self, start: int, epochs: list[Epoch]) -> tuple[int, int]:
        """Each epoch's rows (``_record``) until early stopping says stop; how many epochs were
        recorded and the optimizer step after the last of them."""
        step, every = self.module.global_step, self.module.trainer.log_every_n_steps
        ends = list(itertools.accumulate((e.steps for e in epochs), initial=step))[1:]
        logged = [
            k for k, end in enumerate(ends) if end // every > (end - epochs[k].steps) // every
        ]
        kept = self.loop.grad_norms([epochs[k] for k in logged])
        if kept is None:
            kept = [self.module.grad_norms(self.module.engine.last) for _ in logged]
        norms = dict(zip(logged, kept, strict=True))
        for index, (epoch, end) in enumerate(zip(epochs, ends, strict=True)):
            self._record(start + index, epoch, end, norms.get(index))
            if self.watch.stopped:
                return index + 1, end
        return len(epochs), ends[-1] if ends else step

    def _record(
        self, epoch_index: int, epoch: Epoch, step: int, norms: dict[str, float] | None
    ) -> None:
        """The epoch's metrics to the loggers at ``step`` (the epoch's last), its step-level
        row where one is due (``norms``: each weight's gradient norm), the objective."""
        module, values = self.module, epoch.values
        self.latest.update(values)
        row = {("train/loss_epoch" if k == "train/loss" else k): v for k, v in values.items()}
        row["epoch"] = epoch_index
        if norms is not None:
            row.update({"train/loss_step": epoch.step_loss, **norms})
        for logger in module.loggers:
            logger.log_metrics(row, step=step)
        monitor = self.watch.monitor
        if monitor in values and self.watch.update(values[monitor], epoch_index):
            snapshot = self.loop.state_after(epoch)
            self.best = BestState(snapshot, as_logged(self.latest), epoch_index, step)

    def checkpoint(self) -> dict[str, Any]:
        """What last.ckpt keeps of the loop: data epochs done and the watch."""
        return {"epochs_done": self.epochs_done, "watch": self.watch.state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``checkpoint()``."""
        self.watch.load(state.get("watch", {}))


def as_logged(values: dict[str, float]) -> dict[str, float]:
    """Values as Lightning's ``self.log`` keeps them (float32 tensors), as plain numbers: a
    run's reported metrics read the same from its checkpoints as from its last call.

    >>> as_logged({"train/lr": 0.03})
    {'train/lr': 0.029999999329447746}
    """
    rounded = torch.tensor(list(values.values()), dtype=torch.float32).tolist()
    return dict(zip(values, rounded, strict=True))


def _next_chunk(done: int, seconds: float) -> int:
    """The next native call's epochs: about ``CHUNK_SECONDS`` at the pace of the last one."""
    pace = seconds / max(done, 1)
    return max(1, min(MAX_CHUNK, int(CHUNK_SECONDS / max(pace, 1e-6))))


@contextmanager
def best_in_place(best: BestState) -> Iterator[None]:
    """The best epoch's state put into the run's tensors for the block (best.ckpt is written
    from them), the run's own put back after it."""
    current = Snapshot.of(best.snapshot.targets, best.snapshot.schedule)
    best.snapshot.put()
    try:
        yield
    finally:
        current.put()


def best_checkpoint(checkpoint: dict[str, Any], best: BestState) -> None:
    """Mark a checkpoint of the run as best.ckpt: the best epoch's metrics, epoch and step
    (its weights and optimizer state are in place, ``best_in_place``; Lightning's loop state
    stays the run's, so the file loads as any other)."""
    checkpoint["nnkit_metrics"] = dict(best.metrics)
    checkpoint["nnkit_best"] = {"epoch": best.epoch, "step": best.step}
    checkpoint["epoch"], checkpoint["global_step"] = best.epoch, best.step


class BestCheckpoint(pl.Callback):
    """best.ckpt for the engine's epoch loop: the best data epoch's state, written at the end
    of a Lightning call at most every ``interval_s`` seconds, at the end of training, and
    before last.ckpt when a run is stopped (Ctrl-C, SIGTERM)."""

    def __init__(self, path: Path, interval_s: float) -> None:
        self.path, self.interval_s = path, interval_s
        self._saved_at: float | None = None

    def _write(self, trainer: pl.Trainer, module: Any, force: bool) -> None:
        calls: EpochCalls | None = getattr(module, "epoch_calls", None)
        best = calls.best if calls is not None else None
        if best is None or best.written:
            return
        now = time.monotonic()
        if not force and self._saved_at is not None and now - self._saved_at < self.interval_s:
            return
        module.writing_best = best
        try:
            with best_in_place(best):
                trainer.save_checkpoint(self.path)
        finally:
            module.writing_best = None
        best.written, self._saved_at = True, now

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._write(trainer, module, force=trainer.should_stop)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._write(trainer, module, force=True)

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, error: BaseException):
        from pytorch_lightning.utilities.exceptions import SIGTERMException

        if isinstance(error, KeyboardInterrupt | SIGTERMException):
            self._write(trainer, module, force=True)

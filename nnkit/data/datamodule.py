"""The LightningDataModule: whole tensors on the device, batches cut by slicing.

No per-sample work and no collation: every epoch draws one permutation, and each batch is an
index into tensors that already sit where the model runs. For training, ``steps_per_call``
batches travel together, so the training step can take several optimizer steps per call.

>>> batches = TensorBatches(torch.arange(10.0).unsqueeze(1), torch.arange(10), batch_size=4)
>>> [len(x) for x, _ in batches]
[4, 4, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from nnkit.data.dataset import TensorData
from nnkit.data.shuffle import EpochShuffle, ReplicaShuffle


class TensorBatches:
    """Batches of ``(x, y)`` sliced from whole tensors; shuffled per epoch when ``shuffle``.

    ``group`` = k >= 1 yields lists of up to k batches (for multi-step training calls);
    0 yields the batches themselves. With ``world_size`` > 1 each rank
    takes every ``world_size``-th batch. With ``replicas`` > 1, each replica is shuffled on
    its own and batches carry a leading replica dimension: ``(R, batch, ...)``.
    """

    batch_sampler = None  # Lightning looks for it beside ``sampler``

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        group: int = 0,
        rank: int = 0,
        world_size: int = 1,
        steps_done: Callable[[], int] | None = None,
        replicas: int = 1,
        limit: int = 0,
    ) -> None:
        self.x, self.y, self.batch_size, self.group, self.limit = x, y, batch_size, group, limit
        shuffle_each = ReplicaShuffle(seed, replicas) if replicas > 1 else EpochShuffle(seed)
        self.sampler = shuffle_each if shuffle else None
        self.steps_done = steps_done
        self.rank, self.world_size = rank, world_size

    def _batch_starts(self) -> list[int]:
        total = -(-len(self.x) // self.batch_size)
        per_rank = total // self.world_size if self.world_size > 1 else total  # equal on all ranks
        starts = [(self.rank + k * self.world_size) * self.batch_size for k in range(per_rank)]
        return starts[: self.limit] if self.limit else starts

    def _position(self) -> tuple[int, int]:
        """The epoch about to be drawn, and how many of its batches were already taken. With
        ``steps_done`` (the trainer's optimizer steps, restored exactly on resume) both are
        derived from it — every epoch takes the same number of steps — so they hold where
        Lightning creates the iterator before advancing its own epoch counter, and a run
        resumed mid-epoch (after SIGTERM) continues with the very next batch."""
        if self.steps_done is None:
            return (self.sampler.epoch if self.sampler is not None else 0), 0
        return divmod(self.steps_done(), max(1, len(self._batch_starts())))

    def __len__(self) -> int:
        return -(-len(self._batch_starts()) // max(self.group, 1))

    def __iter__(self) -> Iterator[Any]:
        x, y = self.x, self.y
        epoch, taken = self._position()
        if self.sampler is not None:
            order = self.sampler.permutation(len(x), x.device, epoch)
            x, y = x[order], y[order]
        starts = self._batch_starts()[taken:]
        if x.dim() == self.x.dim() + 1:  # (R, n, ...): each replica's own order
            batches = [
                (x[:, i : i + self.batch_size], y[:, i : i + self.batch_size]) for i in starts
            ]
        else:
            batches = [(x[i : i + self.batch_size], y[i : i + self.batch_size]) for i in starts]
        if self.group == 0:
            return iter(batches)
        return iter([batches[i : i + self.group] for i in range(0, len(batches), self.group)])


class OneCall:
    """The training "batches" of an epoch of Lightning's where the engine's epoch loop runs the
    data epochs (``nnkit.training.epoch_calls``): one call, which draws its own minibatches.

    >>> list(OneCall()), len(OneCall())
    ([0], 1)
    """

    sampler = batch_sampler = None  # Lightning looks for them

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[int]:
        return iter([0])


class TensorDataModule(pl.LightningDataModule):
    """Serves a ``TensorData``'s splits as ``TensorBatches`` on the trainer's device."""

    def __init__(
        self,
        data: TensorData,
        batch_size: int,
        eval_batch_size: int = 0,
        seed: int = 0,
        steps_per_call: int = 1,
        replicas: int = 1,
        epoch_calls: bool = False,
    ) -> None:
        super().__init__()
        self.epoch_calls = epoch_calls  # the engine's epoch loop draws the batches itself
        self.data, self.replicas = data, replicas
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.seed, self.steps_per_call = seed, steps_per_call
        self._device = torch.device("cpu")

    def setup(self, stage: str) -> None:
        if self.trainer is not None:
            self._device = self.trainer.strategy.root_device

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int):
        """Batches are slices of tensors already on the device: nothing to move."""
        return batch

    def on_device(self, split: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """A split's tensors on the trainer's device."""
        return split[0].to(self._device), split[1].to(self._device)

    def _steps_done(self) -> int:
        return self.trainer.global_step if self.trainer is not None else 0

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> TensorBatches | OneCall:
        if self.epoch_calls:
            return OneCall()
        rank, world = self._rank()
        # set by Lightning's data connector from Trainer(overfit_batches=...)
        overfit = self.trainer.overfit_batches if self.trainer is not None else 0  # type: ignore[attr-defined]
        train = self.on_device(self.data.train)
        batches = -(-len(train[0]) // self.batch_size)
        limit = int(overfit) if overfit >= 1 else max(1, int(overfit * batches)) if overfit else 0
        return TensorBatches(
            *train,
            self.batch_size,
            shuffle=not overfit,  # overfitting: the same first batches every epoch, by heart
            limit=limit * self.steps_per_call,
            seed=self.seed,
            group=self.steps_per_call,
            steps_done=self._steps_done,
            rank=rank,
            world_size=world,
            replicas=self.replicas,
        )

    def _eval(self, split: tuple[Tensor, Tensor]) -> TensorBatches:
        rank, world = self._rank()
        size = self.eval_batch_size or -(-len(split[0]) // world)
        return TensorBatches(*self.on_device(split), size, rank=rank, world_size=world)

    def val_dataloader(self) -> TensorBatches:
        return self._eval(self.data.val)

    def test_dataloader(self) -> TensorBatches:
        return self._eval(self.data.test)

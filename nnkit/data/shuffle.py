"""Each epoch's order of the training rows: a pure function of the seed and the epoch, so a
resumed run, the engine's epoch loop and the playground draw exactly the order the
uninterrupted run draws.

>>> EpochShuffle(0).permutation(5, torch.device("cpu"), epoch=3).sort().values.tolist()
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import torch
from torch import Tensor


class EpochShuffle:
    """A permutation per epoch, a pure function of ``(seed, epoch)``, so a resumed run draws
    exactly the order the uninterrupted run would have drawn. Lightning calls ``set_epoch``."""

    def __init__(self, seed: int) -> None:
        self.seed, self.epoch = seed, 0
        self._generator = torch.Generator()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self, n: int, device: torch.device, epoch: int) -> Tensor:
        """Epoch ``epoch``'s order of ``n`` rows, on ``device``."""
        generator = self._generator.manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=generator)
        return order if device.type == "cpu" else order.to(device)


class ReplicaShuffle(EpochShuffle):
    """One ``EpochShuffle`` per replica, seeds ``seed, seed + 1, ...``: replica r draws the very
    order a single run with ``seed + r`` draws. ``permutation`` returns them stacked ``(R, n)``."""

    def __init__(self, seed: int, replicas: int) -> None:
        super().__init__(seed)
        self.replicas = [EpochShuffle(seed + r) for r in range(replicas)]

    def permutation(self, n: int, device: torch.device, epoch: int) -> Tensor:
        return torch.stack([r.permutation(n, device, epoch) for r in self.replicas])  # (R, n)

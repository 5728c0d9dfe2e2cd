"""A run that diverges stops with one line: the loss or the weights are no longer finite.

>>> check_losses(torch.tensor([0.5, 0.4]), last_step=10, epoch=0, lr=0.01)
>>> try:
...     check_losses(torch.tensor([0.5, float("inf")]), last_step=10, epoch=0, lr=9.0)
... except DivergenceError as error:
...     print(str(error).split(";")[0])
training diverged: the loss became inf at optimizer step 10 (epoch 0)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnkit.errors import DivergenceError


def check_losses(losses: Tensor, last_step: int, epoch: int, lr: Any) -> None:
    """Raise ``DivergenceError`` at the first non-finite loss of ``losses``, the losses of the
    optimizer steps that ended at ``last_step``."""
    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return
    first = int((~finite).nonzero()[0])
    step = last_step - len(losses) + first + 1
    raise DivergenceError(
        f"training diverged: the loss became {float(losses[first])} at optimizer step {step} "
        f"(epoch {epoch}); the learning rate (optimizer.lr={lr}) is likely too large — try a "
        f"smaller one"
    )


def check_weights(net: nn.Module, step: int, lr: Any) -> None:
    """Raise ``DivergenceError`` naming every weight of ``net`` that is no longer finite."""
    bad = [name for name, p in net.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise DivergenceError(
            f"training diverged: weights {', '.join(bad)} are no longer finite at optimizer "
            f"step {step}; the learning rate (optimizer.lr={lr}) is likely too large"
        )

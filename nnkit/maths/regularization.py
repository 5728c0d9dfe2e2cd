"""Regularization, as the TensorFlow Playground offers it: a penalty on the weights' size.

The cost a network minimises becomes C + rate · Σ_w P(w), over every weight (the biases are
left free): with L1, P(w) = |w|, whose derivative sign(w) pulls each weight toward 0 by the
same step, so small weights reach 0 and stay (a sparse network); with L2, P(w) = w² / 2,
whose derivative w pulls in proportion to the weight (weight decay). The derivative is added
to each weight's gradient inside the hand-derived step (``nnkit.maths.network``) and the
native program; ``PenaltyFunction`` gives the autograd paths the same derivative, and
``nnkit.gradcheck`` proves it against torch's.

>>> w = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
>>> penalty(w, "l1").backward()
>>> w.grad
tensor([-1.,  0.,  1.])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

KINDS = ("none", "l1", "l2")


def penalty_forward(w: Tensor, kind: str) -> Tensor:
    """Σ |w| (L1) or Σ w² / 2 (L2)."""
    return w.abs().sum() if kind == "l1" else 0.5 * (w * w).sum()


def penalty_backward(w: Tensor, kind: str) -> Tensor:
    """d|w|/dw = sign(w) (0 at the kink 0, torch's convention); d(w²/2)/dw = w."""
    return torch.sign(w) if kind == "l1" else w


class PenaltyFunction(Function):
    """The penalty of one weight tensor, with its hand-derived backward."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, kind: str) -> Tensor:
        ctx.kind = kind
        ctx.save_for_backward(w)
        return penalty_forward(w, kind)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (w,) = ctx.saved_tensors
        return grad * penalty_backward(w, ctx.kind), None


def penalty(w: Tensor, kind: str) -> Tensor:
    """The penalty of ``w`` for ``kind`` (l1 or l2), differentiable by its hand-derived rule."""
    return PenaltyFunction.apply(w, kind)


def torch_penalty(w: Tensor, kind: str) -> Tensor:
    """The same penalty in plain torch, for the proof."""
    return w.abs().sum() if kind == "l1" else 0.5 * w.pow(2).sum()


@dataclass(frozen=True)
class Regularization:
    """``kind`` (none, l1, l2) at ``rate``: what the step adds to the weights' gradients.

    >>> Regularization("l2", 0.1).gradient(torch.tensor([1.0, -2.0]))
    tensor([ 0.1000, -0.2000])
    """

    kind: str = "none"
    rate: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown regularization '{self.kind}' (choose from: {', '.join(KINDS)})"
            )

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.rate > 0

    def gradient(self, w: Tensor) -> Tensor:
        """rate · dP/dw for one weight tensor."""
        return self.rate * penalty_backward(w, self.kind)

    def cost(self, weights: Sequence[Tensor]) -> Tensor:
        """rate · Σ P(w) over the weight tensors, differentiable (autograd paths)."""
        return self.rate * sum(penalty(w, self.kind) for w in weights)  # type: ignore[return-value]

"""The hand-derived cost functions: each forward beside its derivative, as in ``functions``.

>>> y = torch.tensor([0.7, 0.8], requires_grad=True)
>>> mse(y, torch.tensor([1.0, 0.0]), "mean").backward()
>>> y.grad
tensor([-0.3000,  0.8000])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as TF
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from nnkit.maths.declaration import LossOp, declare_loss


def _count(t: Tensor, reduction: str) -> int:
    return t.numel() if reduction == "mean" else 1


def _reduce(values: Tensor, reduction: str) -> Tensor:
    return values.mean() if reduction == "mean" else values.sum()


def _scaled(error: Tensor, grad: Tensor | float, count: int) -> Tensor:
    """grad × error / count, in place on ``error`` (a fresh tensor), in that order; the
    multiplication by 1 and the division by 1 of a whole-network step are left out (both
    exact), so every replica's derivative stays, to the bit, its single run's."""
    if not (isinstance(grad, float) and grad == 1.0):
        error = error.mul_(grad)
    return error.div_(count) if count != 1 else error


def mse_forward(y: Tensor, target: Tensor, reduction: str) -> Tensor:
    """The cost function, "the average quadratic error of all outputs", where the error is
    "the difference between output and expected value": C = 1/N Σ (y - t)² (or the plain sum)."""
    diff = y - target
    return _reduce(diff * diff, reduction)


def mse_backward(diff: Tensor, grad: Tensor | float, reduction: str) -> Tensor:
    """dC/dy = 2 (y - t) / N: each output is pushed against its own error, in proportion to it
    ("if the neuron 6 shows 0.7, the correction to be made is 0.3"). dC/dt is its negative."""
    return grad * 2.0 * diff / _count(diff, reduction)


class MSEFunction(Function):
    """Mean (or summed) squared error, differentiable in the output and in the target."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.reduction = reduction
        ctx.save_for_backward(y - target)
        return mse_forward(y, target, reduction)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor):
        (diff,) = ctx.saved_tensors
        grad_y = mse_backward(diff, grad, ctx.reduction)
        grad_t = -grad_y if ctx.needs_input_grad[1] else None
        return grad_y, grad_t, None


def bce_forward(z: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Binary cross-entropy on a logit z (the sigmoid is inside, for stability):
    C = softplus(z) - t z, with softplus(z) = log(e^0 + e^z), computed without overflow as
    ``logaddexp(0, z)`` = max(z, 0) + log(1 + e^-|z|)."""
    return _reduce(torch.logaddexp(z, z.new_zeros(())) - z * target, reduction)


def bce_backward(z: Tensor, target: Tensor, grad: Tensor | float, reduction: str) -> Tensor:
    """dC/dz = s(z) - t: the predicted probability minus the expected one."""
    return _scaled(torch.sigmoid(z) - target, grad, _count(z, reduction))


class BCEWithLogitsFunction(Function):
    """Binary cross-entropy on logits; differentiable in the logits."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.reduction = reduction
        ctx.save_for_backward(z, target)
        return bce_forward(z, target, reduction)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor):
        z, target = ctx.saved_tensors
        return bce_backward(z, target, grad, ctx.reduction), None, None


def cross_entropy_forward(z: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Softmax cross-entropy for class indices t: C = logsumexp(z) - z_t, per sample."""
    picked = z.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (N,)
    return _reduce(torch.logsumexp(z, dim=-1) - picked, reduction)


def cross_entropy_backward(
    z: Tensor, target: Tensor, grad: Tensor | float, reduction: str
) -> Tensor:
    """dC/dz = softmax(z) - onehot(t): every wrong class is pushed down by its probability, the
    right one up by what it lacks."""
    one_hot = torch.nn.functional.one_hot(target, z.shape[-1]).to(z.dtype)  # (N, C)
    return _scaled(torch.softmax(z, dim=-1) - one_hot, grad, _count(target, reduction))


class CrossEntropyFunction(Function):
    """Softmax cross-entropy on logits and integer class targets."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.reduction = reduction
        ctx.save_for_backward(z, target)
        return cross_entropy_forward(z, target, reduction)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor):
        z, target = ctx.saved_tensors
        return cross_entropy_backward(z, target, grad, ctx.reduction), None, None


@dataclass(frozen=True)
class LossPair:
    """A cost's hand-derived value and derivative as plain functions, for whole-network
    backpropagation: ``forward(y, t)`` is the cost, ``backward(y, t)`` is dC/dy. ``native``
    names the same cost in nnkit's native program (``nnkit.native``), ``reduction`` its mean
    or sum.

    >>> mse_pair("sum").backward(torch.tensor([0.7]), torch.tensor([1.0]))
    tensor([-0.6000])
    """

    forward: Callable[[Tensor, Tensor], Tensor]
    backward: Callable[[Tensor, Tensor], Tensor]
    counts: str = "output"  # what a mean divides by: the output's elements, or the targets'
    native: str | None = None
    reduction: str = "mean"


def replicated(pair_for: Callable[[str], LossPair], reduction: str, replicas: int) -> LossPair:
    """The pair for ``replicas`` networks at once (a leading replica dimension on outputs and
    targets): the sum of every replica's own cost, so that each replica's derivative is, to the
    bit, the one its single run computes (the same operations in the same order).

    >>> pair = replicated(mse_pair, "mean", replicas=2)
    >>> pair.backward(torch.tensor([[0.5], [2.0]]), torch.zeros(2, 1))
    tensor([[1.],
            [4.]])
    """
    summed = pair_for("sum")

    def count(y: Tensor, t: Tensor) -> int:
        if reduction != "mean":
            return 1
        return (y if summed.counts == "output" else t).numel() // replicas

    return LossPair(
        lambda y, t: summed.forward(y, t) / count(y, t),
        lambda y, t: summed.backward(y, t) / count(y, t),
        summed.counts,
        summed.native,
        reduction,
    )


def mse_pair(reduction: str) -> LossPair:
    """MSE's pair."""
    return LossPair(
        lambda y, t: mse_forward(y, t, reduction),
        lambda y, t: mse_backward(y - t, 1.0, reduction),
        native="mse",
        reduction=reduction,
    )


def bce_pair(reduction: str) -> LossPair:
    """Binary cross-entropy's pair, on logits."""
    return LossPair(
        lambda z, t: bce_forward(z, t, reduction),
        lambda z, t: bce_backward(z, t, 1.0, reduction),
        native="bce",
        reduction=reduction,
    )


def cross_entropy_pair(reduction: str) -> LossPair:
    """Softmax cross-entropy's pair, on logits and class indices."""
    return LossPair(
        lambda z, t: cross_entropy_forward(z, t, reduction),
        lambda z, t: cross_entropy_backward(z, t, 1.0, reduction),
        counts="target",
        native="cross_entropy",
        reduction=reduction,
    )


mse = MSEFunction.apply
bce_with_logits = BCEWithLogitsFunction.apply
cross_entropy = CrossEntropyFunction.apply


def class_indices(output: Tensor, generator: torch.Generator) -> Tensor:
    """Random class indices for ``output``'s rows (a valid cross-entropy target)."""
    return torch.randint(0, output.shape[-1], output.shape[:-1], generator=generator)


declare_loss(
    LossOp(
        "mse",
        "The article's cost: the average quadratic error of all outputs.",
        function=mse,
        pair=mse_pair,
        reference=lambda y, t, reduction: TF.mse_loss(y, t, reduction=reduction),
    )
)
declare_loss(
    LossOp(
        "bce",
        "Binary cross-entropy on logits.",
        function=bce_with_logits,
        pair=bce_pair,
        reference=lambda z, t, reduction: TF.binary_cross_entropy_with_logits(
            z, t, reduction=reduction
        ),
        inputs="logits",
    )
)
declare_loss(
    LossOp(
        "cross_entropy", "Softmax cross-entropy on logits, for class indices.",
        function=cross_entropy, pair=cross_entropy_pair,
        reference=lambda z, t, reduction: TF.cross_entropy(z, t, reduction=reduction),
        inputs="logits", targets="index", sample_target=class_indices,
    )
)  # fmt: skip

"""Swish, x · s(x), as an nnkit plugin: a Function with a hand-derived backward, its gradient
contract, the torch reference nnkit proves it against, and the forward/backward pair that lets
it run inside nnkit's whole-network backpropagation."""

from __future__ import annotations

import torch
from torch import Tensor

from nnkit import Contract
from nnkit.functions import Pair


def swish_forward(x: Tensor) -> Tensor:
    """f(x) = x s(x), where s is the sigmoid."""
    return x * torch.sigmoid(x)


def swish_backward(x: Tensor | None, y: Tensor, grad: Tensor) -> Tensor:
    """f'(x) = s(x) + x s(x) (1 - s(x)) = s(x) (1 + x (1 - s(x))), times the upstream ``grad``."""
    assert x is not None  # the pair keeps its input: needs_input=True
    s = torch.sigmoid(x)
    return grad * s * (1 + x * (1 - s))


class Swish(torch.autograd.Function):
    """Swish as an autograd Function: ``swish_forward`` and ``swish_backward`` as glue."""

    contract = Contract("smooth")
    pair = Pair(swish_forward, swish_backward, needs_input=True)

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return swish_forward(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0], output)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        x, y = ctx.saved_tensors
        return swish_backward(x, y, grad)

    @staticmethod
    def reference(x: Tensor) -> Tensor:
        return torch.nn.functional.silu(x)

"""Swish, x · s(x), as an nnkit plugin: a Function with a hand-derived backward, its gradient
contract, and the torch reference nnkit proves it against."""

from __future__ import annotations

import torch
from torch import Tensor

from nnkit import Contract


class Swish(torch.autograd.Function):
    """f(x) = x s(x); f'(x) = s(x) + x s(x) (1 - s(x)) = s(x) (1 + x (1 - s(x)))."""

    contract = Contract("smooth")

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad * s * (1 + x * (1 - s))

    @staticmethod
    def reference(x: Tensor) -> Tensor:
        return torch.nn.functional.silu(x)

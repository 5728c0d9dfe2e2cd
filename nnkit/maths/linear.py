"""The linear layer with its hand-derived backward: "each neuron adds together the weighted
values of all the neurons connected to itself and adds a bias value".

>>> x, w = torch.ones(2, 3, requires_grad=True), torch.ones(1, 3, requires_grad=True)
>>> linear(x, w, None).sum().backward()
>>> w.grad
tensor([[2., 2., 2.]])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable


def linear_forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """ "Each neuron adds together the weighted values of all the neurons connected to itself and
    adds a bias value": y = x W^T + b, for x of shape (..., in) and W of shape (out, in).
    For a batch of vectors the product and the bias are one fused ``addmm``.

    With a leading replica dimension — x (R, N, in), W (R, out, in), b (R, out) — each of the
    R networks applies its own weights to its own batch, as one ``baddbmm``."""
    if weight.dim() == 3:
        if bias is None:
            return torch.bmm(x, weight.transpose(1, 2))  # (R, N, out)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # (R, N, out)
    if bias is not None and x.dim() == 2:
        return torch.addmm(bias, x, weight.t())  # (N, out)
    y = x.matmul(weight.t())  # (..., out)
    return y if bias is None else y + bias


def linear_backward(
    x: Tensor, weight: Tensor, grad: Tensor, needs: tuple[bool, ...]
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """With g = dL/dy (the error arriving at the outputs), "computing the derivatives and
    opportunely multiplying the matrices of values and weights":
    dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over every leading dimension
    (per replica, with a leading replica dimension)."""
    if weight.dim() == 3:
        grad_x = torch.bmm(grad, weight) if needs[0] else None  # (R, N, in)
        grad_w = torch.bmm(grad.transpose(1, 2), x) if needs[1] else None  # (R, out, in)
        grad_b = grad.sum(1) if needs[2] else None  # (R, out)
        return grad_x, grad_w, grad_b
    g2 = grad if grad.dim() == 2 else grad.reshape(-1, grad.shape[-1])  # (N, out)
    x2 = x if x.dim() == 2 else x.reshape(-1, x.shape[-1])  # (N, in)
    grad_x = grad.matmul(weight) if needs[0] else None
    grad_w = _weight_grad(g2, x2) if needs[1] else None
    grad_b = g2.sum(0) if needs[2] else None
    return grad_x, grad_w, grad_b


def _weight_grad(grad: Tensor, x: Tensor) -> Tensor:
    """g^T x for g (N, out) and x (N, in), contiguous (out, in). With few inputs and a long
    batch (N >= 256), (x^T g)^T is the same product several times faster on CPU (a (N, in)
    operand read once as the row-major left side); below, the two extra operations cost more."""
    if x.shape[1] < grad.shape[1] and x.shape[0] >= 256:
        return x.t().mm(grad).t().contiguous()
    return grad.t().mm(x)


class LinearFunction(Function):
    """A fully connected layer with its hand-derived backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        return linear_forward(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor):
        x, weight = ctx.saved_tensors
        return linear_backward(x, weight, grad, ctx.needs_input_grad)


linear = LinearFunction.apply

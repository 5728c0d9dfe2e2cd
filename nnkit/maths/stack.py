"""A whole network whose hidden layers hold more than a weighted sum and an activation: each
hidden layer is

    z = W a + b  →  u = norm(z)  →  y = f(u)  →  h = dropout(y)  →  a' = h (+ a, residual)

with the normalization (``none``, ``layer``, ``batch``), the dropout and the residual
connection of ``nnkit.maths.layers`` chosen per layer. Forward keeps every stage's values;
backward walks the error back through each stage with that stage's hand-derived derivative. A
residual connection a' = a + h passes the error at a' to a twice: through the block (back
through dropout, activation, normalization and the weights) and unchanged along the skip —
dL/da = Wᵀ δ + dL/da', which is why a deep network's first layers still receive an error.

>>> import torch
>>> from nnkit.maths.more_functions import TANH
>>> params = [torch.randn(3, 2), torch.zeros(3), torch.randn(3, 3), torch.zeros(3),
...           torch.randn(1, 3), torch.zeros(1)]
>>> stack = Stack(("layer", "batch"), (False, True), [torch.ones(3), torch.zeros(3)] * 2,
...               [None, None], [None, None], training=True)
>>> out, kept = stack_forward(torch.randn(5, 2), (TANH, TANH), params, stack)
>>> out.shape
torch.Size([5, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from torch import Tensor

from nnkit.maths.functions import Pair
from nnkit.maths.layers import (
    EPS,
    MOMENTUM,
    Normalized,
    check_batch_rows,
    dropout_backward,
    dropout_forward,
    norm_backward,
    norm_forward,
    update_running,
)
from nnkit.maths.linear import linear_backward, linear_forward


@dataclass
class Stack:
    """What surrounds each hidden layer's activation, one entry per hidden layer: its
    normalization (``norms``), whether a residual connection adds its input (``residual``), the
    normalizations' scale and shift (``norm_params``: γ, β of each normalized layer, in order),
    batch normalization's running statistics (``running``: (mean, var) buffers, or None) and
    this step's dropout masks (``masks``, or None); ``training``: batch normalization uses (and
    updates) the batch's statistics, else the running ones."""

    norms: tuple[str, ...]
    residual: tuple[bool, ...]
    norm_params: Sequence[Tensor]
    running: Sequence[tuple[Tensor, Tensor] | None]
    masks: Sequence[Tensor | None]
    training: bool = True
    eps: float = EPS
    momentum: float = MOMENTUM

    def tensors(self) -> list[Tensor]:
        """Every tensor it holds: the γs and βs, the running statistics, the masks."""
        running = [t for pair in self.running if pair is not None for t in pair]
        return [*self.norm_params, *running, *(m for m in self.masks if m is not None)]

    def holding(self, tensors: Sequence[Tensor]) -> Stack:
        """The same stack holding ``tensors`` (as ``tensors()`` lists them) instead of its own:
        what an autograd node's forward receives as its inputs."""
        taken = iter(tensors)
        norm_params = [next(taken) for _ in self.norm_params]
        running = [(next(taken), next(taken)) if r is not None else None for r in self.running]
        masks = [next(taken) if m is not None else None for m in self.masks]
        return replace(self, norm_params=norm_params, running=running, masks=masks)

    def replica(self, r: int) -> Stack:
        """Replica ``r``'s stack, as a single network's (its masks left out)."""
        running = [(pair[0][r], pair[1][r]) if pair is not None else None for pair in self.running]
        norm_params = [p[r] for p in self.norm_params]
        return replace(
            self, norm_params=norm_params, running=running, masks=[None] * len(self.masks)
        )

    def norm_of(self, layer: int) -> tuple[Tensor, Tensor] | None:
        """Hidden layer ``layer``'s (γ, β), or None where it is not normalized."""
        if self.norms[layer] == "none":
            return None
        index = sum(kind != "none" for kind in self.norms[:layer])
        return self.norm_params[2 * index], self.norm_params[2 * index + 1]

    def statistics(self, layer: int) -> tuple[Tensor, Tensor] | None:
        """The running statistics a batch-normalized layer uses (in evaluation), else None."""
        return None if self.training or self.norms[layer] != "batch" else self.running[layer]


@dataclass
class Kept:
    """One hidden layer's values for backward: its input a, the normalization's record, the
    activation's input u (where its backward reads it) and output y; its weighted sums z."""

    a: Tensor
    norm: Normalized | None
    u: Tensor | None
    y: Tensor
    z: Tensor | None = None


def stack_forward(
    x: Tensor, pairs: Sequence[Pair], params: Sequence[Tensor], stack: Stack
) -> tuple[Tensor, list[Kept]]:
    """The output and every hidden layer's kept values (the last entry's ``a``: the output
    layer's input)."""
    kept: list[Kept] = []
    a = x
    for layer, pair in enumerate(pairs):
        z = linear_forward(a, params[2 * layer], params[2 * layer + 1])  # (..., N, width)
        u, normalized = _normalize(z, layer, stack)
        y = pair.forward(u)
        mask = stack.masks[layer]
        h = dropout_forward(y, mask) if mask is not None else y
        kept.append(Kept(a, normalized, u if pair.needs_input else None, y, z))
        a = a + h if stack.residual[layer] else h
    output = linear_forward(a, params[-2], params[-1])
    kept.append(Kept(a, None, None, a, output))
    return output, kept


def _normalize(z: Tensor, layer: int, stack: Stack) -> tuple[Tensor, Normalized | None]:
    affine = stack.norm_of(layer)
    if affine is None:
        return z, None
    kind, running = stack.norms[layer], stack.statistics(layer)
    if kind == "batch" and running is None:
        check_batch_rows(z.shape[-2])
    u, normalized = norm_forward(z, *affine, kind, stack.eps, running)
    moving = stack.running[layer]
    if kind == "batch" and stack.training and moving is not None:
        update_running(moving, normalized, z.shape[-2], stack.momentum)
    return u, normalized


def stack_backward(
    grad: Tensor,
    pairs: Sequence[Pair],
    params: Sequence[Tensor],
    kept: Sequence[Kept],
    stack: Stack,
    needs_input_grad: bool,
    errors: list[Tensor] | None = None,
) -> list[Tensor | None]:
    """The gradient for the input (or None), every weight and bias (``params``' order), then
    every normalization's γ and β (``stack.norm_params``' order); into ``errors``, where given,
    each layer's error dL/dz, the output layer's first."""
    layers = len(params) // 2
    grads: list[Tensor | None] = [None] * (1 + len(params))
    norm_grads: list[Tensor] = []
    error = grad  # dL/dz of the layer at hand
    arriving: Tensor | None = None  # dL/da' of the layer above: what a skip brings back
    for layer in reversed(range(layers)):
        carry = layer > 0 or needs_input_grad
        if errors is not None:
            errors.append(error)
        grad_a, grad_w, grad_b = linear_backward(
            kept[layer].a, params[2 * layer], error, (carry, True, True)
        )
        grads[1 + 2 * layer], grads[2 + 2 * layer] = grad_w, grad_b
        skips = layer < layers - 1 and stack.residual[layer]
        if skips and grad_a is not None and arriving is not None:
            grad_a = grad_a + arriving  # a' = a + h: the skip's share of dL/da
        if layer == 0:
            grads[0] = grad_a
            break
        assert grad_a is not None
        arriving = grad_a
        error, affine_grads = _block_backward(grad_a, layer - 1, pairs[layer - 1], kept, stack)
        norm_grads = affine_grads + norm_grads
    return grads + norm_grads


def _block_backward(
    grad: Tensor, layer: int, pair: Pair, kept: Sequence[Kept], stack: Stack
) -> tuple[Tensor, list[Tensor]]:
    """dL/dz of hidden layer ``layer`` from dL/dh (h its block's output), back through the
    dropout, the activation and the normalization; and the normalization's dL/dγ, dL/dβ."""
    mask = stack.masks[layer]
    if mask is not None:
        grad = dropout_backward(mask, grad)
    values = kept[layer]
    grad = pair.backward(values.u, values.y, grad)
    affine = stack.norm_of(layer)
    if affine is None or values.norm is None:
        return grad, []
    grad_z, grad_weight, grad_bias = norm_backward(values.norm, affine[0], grad)
    return grad_z, [grad_weight, grad_bias]

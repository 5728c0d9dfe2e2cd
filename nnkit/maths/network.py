"""Backpropagation as the article tells it: one hand-derived backward for a whole network.

The forward pass runs the layers — "each neuron adds together the weighted values of all the
neurons connected to itself and adds a bias value", then its activation — and keeps every
layer's values. The backward pass starts from the error found at the output and walks the
layers back: at each layer the error is multiplied by the activation's derivative, the layer's
weights and bias receive their corrections (error × the values that entered the layer, and the
error itself), and the error is carried one layer further back through the weight matrix.

The layers' arithmetic is ``linear.linear_forward``/``linear_backward``, the activations'
is their own hand-derived ``Pair`` — nothing is derived twice. With a leading replica dimension
(weights ``(R, out, in)``, inputs ``(R, N, in)``) the same code trains R networks at once.

>>> import torch
>>> from nnkit.maths.functions import RELU
>>> x = torch.randn(4, 3)
>>> w1, b1 = torch.randn(5, 3, requires_grad=True), torch.zeros(5, requires_grad=True)
>>> w2, b2 = torch.randn(2, 5, requires_grad=True), torch.zeros(2, requires_grad=True)
>>> network(x, (RELU,), w1, b1, w2, b2).shape
torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from nnkit.maths.functions import SIGMOID, Pair
from nnkit.maths.linear import linear_backward, linear_forward
from nnkit.maths.loss_functions import LossPair, replicated
from nnkit.maths.regularization import Regularization
from nnkit.maths.stack import Stack, stack_backward, stack_forward


def network_forward(
    x: Tensor, pairs: Sequence[Pair], params: Sequence[Tensor]
) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """The output, and what backward needs: each layer's input, and each hidden layer's
    pre-activation where its activation's backward reads it."""
    inputs, pre_activations = [], []
    value = x
    for layer, pair in enumerate(pairs):
        inputs.append(value)
        z = linear_forward(value, params[2 * layer], params[2 * layer + 1])  # (..., width)
        pre_activations.append(z if pair.needs_input else None)
        value = pair.forward(z)
    inputs.append(value)
    output = linear_forward(value, params[-2], params[-1])  # (..., out)
    return output, inputs, pre_activations


def network_output(
    x: Tensor, pairs: Sequence[Pair], params: Sequence[Tensor], stack: Stack | None = None
) -> Tensor:
    """The network's output alone (no values kept for a backward)."""
    if stack is not None:
        return stack_forward(x, pairs, params, stack)[0]
    return network_forward(x, pairs, params)[0]


def layer_values(
    x: Tensor, pairs: Sequence[Pair], params: Sequence[Tensor], stack: Stack | None = None
) -> tuple[Tensor, list[Tensor]]:
    """The output and every hidden layer's output (what the next layer reads), first first."""
    if stack is not None:
        output, kept = stack_forward(x, pairs, params, stack)
        return output, [k.a for k in kept[1:]]
    output, inputs, _ = network_forward(x, pairs, params)
    return output, inputs[1:]


def network_backward(
    grad: Tensor,
    pairs: Sequence[Pair],
    params: Sequence[Tensor],
    inputs: Sequence[Tensor],
    pre_activations: Sequence[Tensor | None],
    needs_input_grad: bool,
) -> list[Tensor | None]:
    """The gradient for the network's input (or None) and for every weight and bias: the
    error walks back from the output layer, "computing the derivatives and opportunely
    multiplying the matrices of values and weights"."""
    layers = len(params) // 2
    grads: list[Tensor | None] = [None] * (1 + len(params))
    error = grad  # dL/d(output of the last layer)
    for layer in reversed(range(layers)):
        carry = layer > 0 or needs_input_grad
        weight = params[2 * layer]
        grad_x, grad_w, grad_b = linear_backward(inputs[layer], weight, error, (carry, True, True))
        grads[1 + 2 * layer], grads[2 + 2 * layer] = grad_w, grad_b
        if layer == 0:
            grads[0] = grad_x
            break
        assert grad_x is not None  # carried: a hidden layer's input gradient
        error = pairs[layer - 1].backward(pre_activations[layer - 1], inputs[layer], grad_x)
    return grads


class NetworkFunction(Function):
    """A whole fully connected network as one autograd node.

    Written in the classic ``forward(ctx, ...)`` form: the forward pass computes the very
    values that backward consumes (every layer's input and pre-activation), and keeps them in
    ``ctx`` as it goes. (The form without ``ctx`` would have to return them as outputs.)
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, pairs: tuple[Pair, ...], *params: Tensor) -> Tensor:
        output, inputs, pre_activations = network_forward(x, pairs, params)
        ctx.pairs = pairs
        ctx.kept = len(inputs)
        ctx.save_for_backward(*params, *inputs, *[z for z in pre_activations if z is not None])
        ctx.has_pre = [z is not None for z in pre_activations]
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors
        n_params = len(saved) - ctx.kept - sum(ctx.has_pre)
        params, inputs = saved[:n_params], saved[n_params : n_params + ctx.kept]
        kept_pre = iter(saved[n_params + ctx.kept :])
        pre = [next(kept_pre) if has else None for has in ctx.has_pre]
        grads = network_backward(grad, ctx.pairs, params, inputs, pre, ctx.needs_input_grad[0])
        return grads[0], None, *grads[1:]


class StackFunction(Function):
    """A whole network with normalization, dropout or residual connections (``Stack``) as one
    autograd node: ``(x, pairs, stack, W1, b1, ..., Wk, bk, γ1, β1, ...)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, pairs: tuple[Pair, ...], stack: Stack,
                *params: Tensor) -> Tensor:  # fmt: skip
        layers = 2 * (len(pairs) + 1)
        stack = stack.holding(params[layers:])  # the node's own inputs, as a tracer sees them
        output, kept = stack_forward(x, pairs, params[:layers], stack)
        ctx.pairs, ctx.stack, ctx.kept = pairs, stack, kept
        ctx.save_for_backward(*params[:layers])
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        params, needs_x = ctx.saved_tensors, ctx.needs_input_grad[0]
        grads = stack_backward(grad, ctx.pairs, params, ctx.kept, ctx.stack, needs_x)
        rest = len(ctx.needs_input_grad) - len(grads) - 2  # the running statistics, the masks
        return grads[0], None, None, *grads[1:], *[None] * rest


def network(
    x: Tensor, pairs: Sequence[Pair], *params: Tensor, stack: Stack | None = None
) -> Tensor:
    """A network's output: hidden layers with the activations ``pairs`` (one per hidden layer),
    then a linear output layer; ``params`` are ``W1, b1, ..., Wk, bk``. A ``stack`` adds
    normalization, dropout or residual connections to the hidden layers (its γ and β are
    parameters of the node too)."""
    if len(params) != 2 * (len(pairs) + 1):
        raise ValueError(f"{len(pairs)} hidden layers need {2 * (len(pairs) + 1)} parameters")
    if stack is not None:
        return StackFunction.apply(x, tuple(pairs), stack, *params, *stack.tensors())
    return NetworkFunction.apply(x, tuple(pairs), *params)


@torch.no_grad()
def network_loss_grads(
    x: Tensor,
    target: Tensor,
    pairs: Sequence[Pair],
    params: Sequence[Tensor],
    loss: LossPair,
    squash: Pair | None = None,
    regularization: Regularization | None = None,
    stack: Stack | None = None,
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """One training step's mathematics without an autograd graph: the forward pass keeps every
    layer's values, the cost and its derivative at the output (through ``squash``, the
    output neurons' activation, if any), then the error walks back to every weight and bias;
    ``regularization`` adds its penalty's derivative to every weight's gradient.

    Returns the data's cost, the network's raw output and the gradients, in ``params``' order
    (then, with a ``stack``, its γ and β): what ``network`` + the loss's Function (+ the
    penalty) + ``backward()`` compute, without the graph.
    """
    if stack is not None:
        output, kept = stack_forward(x, pairs, params, stack)
    else:
        output, inputs, pre_activations = network_forward(x, pairs, params)
    value = squash.forward(output) if squash is not None else output
    cost = loss.forward(value, target)
    error = loss.backward(value, target)  # dC/d(value)
    if squash is not None:
        error = squash.backward(output, value, error)
    if stack is not None:
        grads = stack_backward(error, pairs, params, kept, stack, False)
    else:
        grads = network_backward(error, pairs, params, inputs, pre_activations, False)
    computed = [grad for grad in grads[1:] if grad is not None]  # each one is
    if regularization is not None and regularization.active:
        for i in range(0, len(params), 2):  # the weights; the biases stay free
            computed[i] = computed[i] + regularization.gradient(params[i])
    return cost, output, computed


DirectBackprop = tuple[tuple[Pair, ...], LossPair, Pair | None]  # pairs, the loss's, squash


def direct_backprop(
    net: torch.nn.Module, loss: torch.nn.Module, squash: bool
) -> DirectBackprop | None:
    """What a training step needs to run ``network_loss_grads`` — the network's activation
    pairs, the loss's pair (summed over replicas, each with its own count, when ``net`` holds
    several) and the output squashing (``squash``: a sigmoid before the loss) — or None where a
    part brings no hand-derived pair (the step then goes through autograd)."""
    pairs = getattr(net, "pairs", None)
    make_pair = getattr(loss, "pair", None)
    if pairs is None or make_pair is None or not hasattr(net, "network_params"):
        return None
    replicas = getattr(net, "replicas", 1)
    if replicas > 1:
        loss_pair = replicated(make_pair, getattr(loss, "reduction", "mean"), replicas)
    else:
        loss_pair = make_pair()
    return pairs, loss_pair, SIGMOID if squash else None

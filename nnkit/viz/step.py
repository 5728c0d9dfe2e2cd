"""One step of the article's mathematics, every number kept: the weighted sums and activations
of each layer (forward), the cost, the error at the output, each layer's error after its
activation's derivative, and each weight's and bias's correction (−lr · gradient) — by nnkit's
hand-derived pairs, and the same numbers by torch's autograd, to set beside them.

>>> net = article_network()
>>> x, target = torch.tensor([[1.0, 0.5]]).double(), torch.tensor([[1.0]]).double()
>>> step = trace(net, x, target, lr=0.1)
>>> [round(v, 4) for v in step.layers[0].weighted[0].tolist()]
[3.25, -0.3]
>>> [round(v, 4) for v in step.layers[0].activated[0].tolist()], round(float(step.answer), 4)
([3.25, 0.0], 0.9985)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from nnkit.maths.functions import SIGMOID, Pair
from nnkit.maths.linear import linear_forward
from nnkit.maths.loss_functions import LossPair, mse_pair
from nnkit.maths.stack import Stack, stack_backward, stack_forward
from nnkit.models import MLP

# The article's worked example: inputs (1, 0.5); hidden unit 1 has weights 1 and 0.5 and bias
# 2 (3.25 → ReLU → 3.25); unit 2 (its weights are not given) receives -0.3 (→ 0); the output
# weights 2 and -1.25 give 6.5, and the sigmoid 0.9985.
ARTICLE = {
    "hidden_weight": [[1.0, 0.5], [-0.5, 0.4]],
    "hidden_bias": [2.0, 0.0],
    "output_weight": [[2.0, -1.25]],
    "output_bias": [0.0],
}


@dataclass
class Layer:
    """One layer's numbers for a batch: what it received, its weighted sums and activations;
    after the backward pass its error (dC/dz) and its corrections (−lr · dC/dW, −lr · dC/db)."""

    name: str
    received: Tensor  # (N, in)
    weighted: Tensor  # (N, out)
    activated: Tensor  # (N, out)
    error: Tensor | None = None  # (N, out)
    weight_correction: Tensor | None = None  # (out, in)
    bias_correction: Tensor | None = None  # (out,)
    normalized: Tensor | None = None  # (N, out): after the normalization, where it has one
    mean: Tensor | None = None  # the normalization's mean and variance (a row's, or each unit's)
    var: Tensor | None = None
    norm: str = "none"  # which normalization: layer (the point's own statistics) or batch
    mask: Tensor | None = None  # (N, out): the dropout mask of the step
    passed: Tensor | None = None  # (N, out): what the next layer reads (after dropout and skip)


@dataclass
class Step:
    """Every layer of one step, the network's answer (after the output squash) and the cost."""

    layers: list[Layer]
    answer: Tensor  # (N, out)
    cost: float | None = None


def article_network() -> MLP:
    """The article's 2-2-1 network (ReLU hidden units, a sigmoid output) with its weights."""
    net = MLP(2, 1, hidden=[2], activation="relu").double()
    w1, b1, w2, b2 = net.network_params()
    with torch.no_grad():
        for weight, bias, prefix in ((w1, b1, "hidden"), (w2, b2, "output")):
            weight.copy_(torch.tensor(ARTICLE[f"{prefix}_weight"]))
            bias.copy_(torch.tensor(ARTICLE[f"{prefix}_bias"]))
    return net


def _names(net: MLP) -> list[str]:
    activations = [type(m).__name__.lower() for m in net.layers if not hasattr(m, "weight")]
    return [f"hidden {i + 1} ({a})" for i, a in enumerate(activations)] + ["output"]


def _reference(activation: torch.nn.Module) -> Callable[[Tensor], Tensor]:
    """An activation module's torch twin (its contract's ``reference``)."""
    reference: Callable[[Tensor], Tensor] = getattr(activation, "reference")  # noqa: B009
    return reference


@torch.no_grad()
def trace(
    net: MLP,
    x: Tensor,
    target: Tensor | None = None,
    loss: LossPair | None = None,
    squash: Pair | None = SIGMOID,
    lr: float = 0.1,
) -> Step:
    """The step by nnkit's hand-derived pairs (``net.pairs``): forward keeping every value,
    then — with a ``target`` — the cost (``loss``, by default the article's MSE), the error at
    the output through ``squash``, walked back layer by layer to every correction."""
    if net.extras is not None:
        return _trace_stack(net, x, target, loss or mse_pair("mean"), squash, lr)
    pairs, params = list(net.pairs or ()), net.network_params()
    layers, value = [], net.expand(x)
    for index, name in enumerate(_names(net)):
        z = linear_forward(value, params[2 * index], params[2 * index + 1])  # (N, out)
        last = index == len(pairs)
        activated = z if last else pairs[index].forward(z)
        layers.append(Layer(name, value, z, activated))
        value = activated
    answer = squash.forward(value) if squash is not None else value
    if target is None:
        return Step(layers, answer)
    loss = loss or mse_pair("mean")
    error = loss.backward(answer, target)  # dC/d(answer)
    error = squash.backward(value, answer, error) if squash is not None else error
    for index in reversed(range(len(layers))):
        layer = layers[index]
        layer.error = error  # dC/dz of this layer
        layer.weight_correction = -lr * error.T @ layer.received  # (out, in)
        layer.bias_correction = -lr * error.sum(dim=0)
        if index:
            below = layers[index - 1]
            carried = error @ params[2 * index]  # dC/d(activation below)
            error = pairs[index - 1].backward(below.weighted, below.activated, carried)
    return Step(layers, answer, float(loss.forward(answer, target)))


def explained_stack(net: MLP, x: Tensor) -> Stack:
    """The normalization and dropout of an explained step: batch normalization by its running
    statistics (one point has no batch), layer normalization by the point's own, and a
    dropout mask drawn as a training step draws it."""
    assert net.extras is not None
    stack = net.extras.stack(x, training=False)
    if not any(net.extras.rates):
        return stack
    drawn = net.extras.dropout_draws.clone()
    masks = net.extras.masks(x)
    net.extras.dropout_draws.copy_(drawn)  # the next step's masks, shown, not spent
    return replace(stack, masks=masks)


def _trace_stack(
    net: MLP, x: Tensor, target: Tensor | None, loss: LossPair, squash: Pair | None, lr: float
) -> Step:
    """``trace`` of a network with normalization, dropout or residual connections: the
    hand-derived whole network of ``nnkit.maths.stack``, every stage's values kept."""
    pairs, params = list(net.pairs or ()), net.network_params()
    value = net.expand(x)
    stack = explained_stack(net, value)
    output, kept = stack_forward(value, pairs, params, stack)
    layers = []
    for index, name in enumerate(_names(net)):
        here = kept[index]
        assert here.z is not None
        if index == len(pairs):
            layers.append(Layer(name, here.a, here.z, here.z))
            continue
        norm, affine = here.norm, stack.norm_of(index)
        normalized = norm.xhat * affine[0] + affine[1] if norm and affine else None
        layers.append(Layer(name, here.a, here.z, here.y, normalized=normalized,
                            mean=norm.mean[0] if norm else None, var=norm.var[0] if norm else None,
                            mask=stack.masks[index], passed=kept[index + 1].a,
                            norm=stack.norms[index]))  # fmt: skip
    answer = squash.forward(output) if squash is not None else output
    if target is None:
        return Step(layers, answer)
    error = loss.backward(answer, target)
    error = squash.backward(output, answer, error) if squash is not None else error
    errors: list[Tensor] = []
    grads = stack_backward(error, pairs, params, kept, stack, False, errors)
    for index, layer in enumerate(layers):
        grad_w, grad_b = grads[1 + 2 * index], grads[2 + 2 * index]
        assert grad_w is not None and grad_b is not None
        layer.error = errors[len(layers) - 1 - index]
        layer.weight_correction, layer.bias_correction = -lr * grad_w, -lr * grad_b
    return Step(layers, answer, float(loss.forward(answer, target)))


def trace_with_autograd(
    net: MLP,
    x: Tensor,
    target: Tensor,
    lr: float = 0.1,
    cost: Callable[[Tensor, Tensor], Tensor] | None = None,
    squash: bool = True,
) -> Step:
    """The same step by torch: the activations' torch references, ``torch.sigmoid`` at the
    output if ``squash``, the ``cost`` (by default the mean squared error), and
    ``torch.autograd.grad`` for every error and correction."""
    cost = cost or (lambda y, t: ((y - t) ** 2).mean())
    params = [p.detach().requires_grad_(True) for p in net.network_params()]
    activations = [m for m in net.layers if not hasattr(m, "weight")]
    layers, zs, value = [], [], net.expand(x)
    stack = explained_stack(net, value) if net.extras is not None else None
    for index, name in enumerate(_names(net)):
        z = value @ params[2 * index].T + params[2 * index + 1]
        if index == len(activations):
            activated = passed = z
        else:
            activated, passed = _torch_block(activations[index], stack, index, value, z)
        layers.append(Layer(name, value.detach(), z.detach(), activated.detach()))
        zs.append(z)
        value = passed
    answer = torch.sigmoid(value) if squash else value
    total = cost(answer, target)
    grads = torch.autograd.grad(total, [*zs, *params])
    for index, layer in enumerate(layers):
        layer.error = grads[index]
        layer.weight_correction = -lr * grads[len(zs) + 2 * index]
        layer.bias_correction = -lr * grads[len(zs) + 2 * index + 1]
    return Step(layers, answer.detach(), float(total.detach()))


def _torch_block(
    activation: torch.nn.Module, stack: Stack | None, layer: int, a: Tensor, z: Tensor
) -> tuple[Tensor, Tensor]:
    """A hidden layer's activation and output by torch: its normalization (as ``stack`` has
    it), the activation's torch reference, the dropout mask, the skip."""
    if stack is None:
        y = _reference(activation)(z)
        return y, y
    affine = stack.norm_of(layer)
    if affine is not None:
        running = stack.statistics(layer)
        if running is not None:
            z = torch.nn.functional.batch_norm(z, *running, *affine, False, 0.0, stack.eps)
        else:
            z = torch.nn.functional.layer_norm(z, (z.shape[-1],), *affine, stack.eps)
    y = _reference(activation)(z)
    mask = stack.masks[layer]
    h = y * mask if mask is not None else y
    return y, a + h if stack.residual[layer] else h


def largest_difference(ours: Step, theirs: Step) -> float:
    """The largest absolute difference between two traces' numbers."""
    worst = abs(ours.answer - theirs.answer).max().item()
    for a, b in zip(ours.layers, theirs.layers, strict=True):
        for field in ("weighted", "activated", "error", "weight_correction", "bias_correction"):
            left, right = getattr(a, field), getattr(b, field)
            if left is not None and right is not None:
                worst = max(worst, (left - right).abs().max().item())
    return worst

"""The hand-derived autograd Functions: each forward beside its derivative.

Every operation is a pair of plain functions, ``*_forward`` and ``*_backward``, with the
derivation in the docstring, and a ``torch.autograd.Function`` that is only glue. The aliases at
the bottom (``step``, ``sigmoid``, ...) are what the rest of nnkit calls. This module knows only
torch; ``nnkit.gradcheck`` proves every backward against torch's own autograd.

The Functions use the classic ``forward(ctx, ...)`` form. For Functions with a separate
``setup_context``, torch's ``Function.apply`` binds default arguments through
``inspect.signature`` on every call (about 30 µs here, more than a small layer's arithmetic);
the classic form skips that through the public API. The price: torch.func transforms (vmap,
grad) do not apply to them — nnkit batches many networks with an explicit replica dimension
instead (``linear_forward``).

>>> x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
>>> relu(x).sum().backward()
>>> x.grad
tensor([0., 0., 1.])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from nnkit.maths.contract import Contract
from nnkit.maths.declaration import Op, declare

STE_CHOICES = ("identity", "clipped", "none")


@dataclass(frozen=True)
class Pair:
    """An activation's hand-derived forward and backward as plain functions, for the
    whole-network backpropagation (``nnkit.maths.network``): ``forward(x) -> y`` and
    ``backward(x, y, grad_y) -> grad_x``; ``x`` is kept for backward only if ``needs_input``.
    ``native`` names the same mathematics in nnkit's native program (``nnkit.native``), with its
    one number ``argument`` (a slope, an alpha); None where there is no native version.

    >>> RELU.backward(None, torch.tensor([0.0, 2.0]), torch.tensor([5.0, 5.0]))
    tensor([0., 5.])
    """

    forward: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor | None, Tensor, Tensor], Tensor]
    needs_input: bool = False
    native: str | None = None
    argument: float = 0.0


# --- step -----------------------------------------------------------------------------------
def step_forward(x: Tensor) -> Tensor:
    """ "For all negative values the response remains 0, while it jumps to +1 as soon as the
    value reaches or exceeds zero": ``H(x) = 1 if x >= 0 else 0``."""
    return (x >= 0).to(x.dtype)


def step_backward(x: Tensor | None, grad: Tensor, ste: str) -> Tensor:
    """The step "is not differentiable at the point where it changes direction", and its slope is
    zero everywhere else, so no error could flow back through it. A straight-through estimator
    replaces that derivative by the derivative of a chosen surrogate:

    - ``identity``: surrogate f(x) = x, so dL/dx = g (the gradient passes unchanged);
    - ``clipped``:  surrogate f(x) = clamp(x, -1, 1), so dL/dx = g · [|x| <= 1];
    - ``none``:     the true derivative, dL/dx = 0 (kept to show why an estimator is needed).
    """
    if ste == "identity":
        return grad
    if ste == "clipped":
        assert x is not None
        return grad * (x.abs() <= 1).to(grad.dtype)
    return torch.zeros_like(grad)


class StepFunction(Function):
    """The step with a straight-through backward; ``ste`` picks the surrogate."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, ste: str) -> Tensor:
        ctx.ste = ste
        if ste == "clipped":  # only the clipped surrogate needs x
            ctx.save_for_backward(x)
        return step_forward(x)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        x = ctx.saved_tensors[0] if ctx.ste == "clipped" else None
        return step_backward(x, grad, ctx.ste), None


# --- sigmoid --------------------------------------------------------------------------------
def sigmoid_forward(x: Tensor) -> Tensor:
    """The sigmoid "compresses the values in a range between 0 and 1" with an S shape:
    s(x) = 1 / (1 + e^-x), computed as e^-|x| / (1 + e^-|x|) for x < 0 so that no exponential
    overflows for large |x|."""
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_backward(y: Tensor, grad: Tensor) -> Tensor:
    """ds/dx = s(x)(1 - s(x)): at most 1/4, and "for very large input values the curve is almost
    flat, with the consequence that the derivative tends to zero" (the vanishing gradient).
    Computed from the saved output y = s(x), so x need not be kept."""
    return grad * y * (1.0 - y)


class SigmoidFunction(Function):
    """The sigmoid; its backward is itself differentiable (double backward works)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = sigmoid_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return sigmoid_backward(y, grad)


# --- relu -----------------------------------------------------------------------------------
def relu_forward(x: Tensor) -> Tensor:
    """ReLU "flattens the response to all negative values to zero while leaving everything
    unchanged for values equal to or greater than zero": r(x) = max(x, 0)."""
    return x.clamp_min(0)


def relu_backward(y: Tensor, grad: Tensor) -> Tensor:
    """ "For all the negative values it is equal to zero, while for the positive ones it is equal
    to 1. At the angular point in the origin, the derivative is indefinite but is set to zero by
    convention": dr/dx = [x > 0], read from the saved output since y > 0 exactly when x > 0.
    The error passes where the unit was active and stops elsewhere: one masked copy (aten's
    ``threshold_backward``), without building the mask as a tensor."""
    return torch.ops.aten.threshold_backward(grad, y, 0)


class ReLUFunction(Function):
    """ReLU with the derivative at 0 set to 0, as the article and torch do."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = relu_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return relu_backward(y, grad)


# --- identity -------------------------------------------------------------------------------
class IdentityFunction(Function):
    """No activation: f(x) = x and df/dx = 1. A network made only of these "is simply equivalent
    to a linear model"."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


def check_ste(ste: str) -> str:
    """``ste`` if it names a straight-through estimator, else a one-line ``ValueError``."""
    if ste not in STE_CHOICES:
        raise ValueError(f"unknown ste '{ste}' (choose from: {', '.join(STE_CHOICES)})")
    return ste


def step(x: Tensor, ste: str = "identity") -> Tensor:
    """The step function with a straight-through backward (``ste``: identity, clipped, none)."""
    return StepFunction.apply(x, check_ste(ste))


def step_pair(ste: str) -> Pair:
    """The step's pair for the estimator ``ste``."""
    check_ste(ste)
    return Pair(
        step_forward, lambda x, y, g: step_backward(x, g, ste), ste == "clipped", f"step_{ste}"
    )


def step_reference(x: Tensor, ste: str = "identity") -> Tensor:
    """The true step forward with the gradient of the surrogate: s + (H(x) - s).detach()."""
    surrogate = {"identity": x, "clipped": x.clamp(-1, 1), "none": x * 0}[ste]
    return surrogate + ((x >= 0).to(x.dtype) - surrogate).detach()


SIGMOID = Pair(sigmoid_forward, lambda x, y, g: sigmoid_backward(y, g), native="sigmoid")
RELU = Pair(relu_forward, lambda x, y, g: relu_backward(y, g), native="relu")
IDENTITY = Pair(lambda x: x, lambda x, y, g: g, native="identity")

sigmoid = SigmoidFunction.apply
relu = ReLUFunction.apply
identity = IdentityFunction.apply

declare(
    Op(
        "step",
        "1 where x >= 0, else 0; backward by a straight-through estimator (``ste``).",
        pair=step_pair,
        reference=step_reference,
        contract=Contract("surrogate"),
        options={"ste": "identity"},
        variants=tuple({"ste": ste} for ste in STE_CHOICES),
        function=step,
    )
)
declare(
    Op(
        "sigmoid",
        "1 / (1 + e^-x), numerically stable; backward s(1 - s).",
        pair=lambda: SIGMOID,
        reference=torch.sigmoid,
        contract=Contract("smooth", double_backward=True),
        function=sigmoid,
        layer="nn.Sigmoid()",
    )
)
declare(
    Op(
        "relu",
        "max(x, 0); derivative 1 where x > 0, else 0 (0 at the kink, by convention).",
        pair=lambda: RELU,
        reference=torch.relu,
        contract=Contract("piecewise", kinks=(0.0,)),
        function=relu,
        layer="nn.ReLU()",
    )
)
declare(
    Op(
        "identity", "No activation at all, f(x) = x: the linear model (the TensorFlow "
        "Playground calls it linear).",
        pair=lambda: IDENTITY, reference=lambda x: x,
        contract=Contract("smooth", double_backward=True), function=identity,
        aliases=("linear",), layer="nn.Identity()",
    )
)  # fmt: skip

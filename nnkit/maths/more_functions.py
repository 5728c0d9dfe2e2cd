"""The activations beyond the article's: each forward beside its hand-derived derivative.

The TensorFlow Playground offers tanh and "linear"; its users keep asking for leaky ReLU, ELU,
softplus, SiLU (swish), GELU, mish and sine. Each is a ``Pair`` (forward, backward from the
saved input or output), so it runs in the whole-network step (``nnkit.maths.network``) and in
the native program (``nnkit.native``), which computes the same derivatives in C++; as a layer
of its own it runs through ``PairFunction``, the one autograd glue they share.
``nnkit.gradcheck`` proves every one of them against torch's own autograd.

>>> x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
>>> pair_function(TANH)(x).sum().backward()
>>> x.grad
tensor([0.4200, 1.0000, 0.0707])
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from nnkit.maths.contract import Contract
from nnkit.maths.declaration import Op, declare
from nnkit.maths.functions import Pair

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --- tanh -----------------------------------------------------------------------------------
def tanh_backward(y: Tensor, grad: Tensor) -> Tensor:
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x), the sigmoid stretched to (-1, 1):
    tanh(x) = 2 s(2x) - 1. Its derivative, by the quotient rule, is 1 - tanh(x)², read from the
    saved output y: at most 1 (at 0), four times the sigmoid's, and still vanishing for large |x|.
    """
    return grad * (1.0 - y * y)


# --- leaky ReLU -----------------------------------------------------------------------------
def leaky_relu_forward(x: Tensor, slope: float) -> Tensor:
    """ReLU that leaks: f(x) = x for x > 0, slope · x otherwise, so no unit ever stops learning."""
    return torch.where(x > 0, x, x * slope)


def leaky_relu_backward(x: Tensor, grad: Tensor, slope: float) -> Tensor:
    """df/dx = 1 for x > 0, ``slope`` otherwise (at the kink 0, the slope: torch's convention)."""
    return torch.where(x > 0, grad, grad * slope)


# --- ELU ------------------------------------------------------------------------------------
def elu_forward(x: Tensor, alpha: float) -> Tensor:
    """f(x) = x for x > 0, α (e^x - 1) otherwise: smooth below zero, saturating at -α."""
    return torch.where(x > 0, x, alpha * torch.expm1(x.clamp_max(0)))


def elu_backward(x: Tensor, grad: Tensor, alpha: float) -> Tensor:
    """df/dx = 1 for x > 0, α e^x otherwise (α at the kink 0, as torch has it; for α = 1 the
    two sides meet and the function is continuously differentiable)."""
    return torch.where(x > 0, grad, grad * alpha * torch.exp(x.clamp_max(0)))


# --- softplus -------------------------------------------------------------------------------
def softplus_forward(x: Tensor) -> Tensor:
    """f(x) = log(1 + e^x), a smooth ReLU, computed as max(x, 0) + log(1 + e^-|x|) so that no
    exponential overflows."""
    return x.clamp_min(0) + torch.log1p(torch.exp(-x.abs()))


def softplus_backward(x: Tensor, grad: Tensor) -> Tensor:
    """df/dx = e^x / (1 + e^x) = s(x): the softplus is the sigmoid's integral."""
    return grad * torch.sigmoid(x)


# --- SiLU (swish) ---------------------------------------------------------------------------
def silu_forward(x: Tensor) -> Tensor:
    """f(x) = x · s(x): the input weighted by its own sigmoid."""
    return x * torch.sigmoid(x)


def silu_backward(x: Tensor, grad: Tensor) -> Tensor:
    """By the product rule, df/dx = s(x) + x s(x)(1 - s(x)) = s(x)(1 + x(1 - s(x)))."""
    s = torch.sigmoid(x)
    return grad * s * (1.0 + x * (1.0 - s))


# --- GELU -----------------------------------------------------------------------------------
def gelu_forward(x: Tensor) -> Tensor:
    """f(x) = x Φ(x), with Φ the standard normal distribution function, Φ(x) = (1 + erf(x/√2))/2:
    the input weighted by the probability that a standard normal variable lies below it."""
    return x * 0.5 * (1.0 + torch.erf(x * SQRT_HALF))


def gelu_backward(x: Tensor, grad: Tensor) -> Tensor:
    """By the product rule, df/dx = Φ(x) + x φ(x), with φ(x) = e^(-x²/2) / √(2π) the normal
    density (Φ's derivative)."""
    cdf = 0.5 * (1.0 + torch.erf(x * SQRT_HALF))
    return grad * (cdf + x * INV_SQRT_2PI * torch.exp(-0.5 * x * x))


# --- mish -----------------------------------------------------------------------------------
def mish_forward(x: Tensor) -> Tensor:
    """f(x) = x · tanh(softplus(x))."""
    return x * torch.tanh(softplus_forward(x))


def mish_backward(x: Tensor, grad: Tensor) -> Tensor:
    """With u = tanh(softplus(x)): df/dx = u + x (1 - u²) s(x), since d softplus/dx = s(x) and
    d tanh/du = 1 - tanh²."""
    u = torch.tanh(softplus_forward(x))
    return grad * (u + x * (1.0 - u * u) * torch.sigmoid(x))


# --- sine -----------------------------------------------------------------------------------
def sine_backward(x: Tensor, grad: Tensor) -> Tensor:
    """d sin x/dx = cos x: a periodic unit, whose derivative never vanishes for long."""
    return grad * torch.cos(x)


def _kept(x: Tensor | None) -> Tensor:
    """The input the pair kept (``needs_input``)."""
    assert x is not None, "this pair reads its input"
    return x


TANH = Pair(torch.tanh, lambda x, y, g: tanh_backward(y, g), native="tanh")
SOFTPLUS = Pair(softplus_forward, lambda x, y, g: softplus_backward(_kept(x), g), True, "softplus")
SILU = Pair(silu_forward, lambda x, y, g: silu_backward(_kept(x), g), True, "silu")
GELU = Pair(gelu_forward, lambda x, y, g: gelu_backward(_kept(x), g), True, "gelu")
MISH = Pair(mish_forward, lambda x, y, g: mish_backward(_kept(x), g), True, "mish")
SINE = Pair(torch.sin, lambda x, y, g: sine_backward(_kept(x), g), True, "sine")


def _with_argument(forward: Any, backward: Any, native: str, argument: float) -> Pair:
    """The pair of an activation with one number (a slope, an alpha), reading its input."""
    return Pair(
        lambda x: forward(x, argument),
        lambda x, y, g: backward(_kept(x), g, argument),
        True,
        native,
        argument,
    )


def leaky_relu_pair(slope: float) -> Pair:
    """Leaky ReLU's pair for the negative side's ``slope``."""
    return _with_argument(leaky_relu_forward, leaky_relu_backward, "leaky_relu", slope)


def elu_pair(alpha: float) -> Pair:
    """ELU's pair for the saturation ``alpha``."""
    return _with_argument(elu_forward, elu_backward, "elu", alpha)


class PairFunction(Function):
    """One activation layer from its ``Pair``: forward keeps what the backward reads (the
    input where ``needs_input``, else the output)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, pair: Pair) -> Tensor:
        y = pair.forward(x)
        ctx.pair = pair
        ctx.save_for_backward(x if pair.needs_input else y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (saved,) = ctx.saved_tensors
        pair: Pair = ctx.pair
        x, y = (saved, None) if pair.needs_input else (None, saved)
        return pair.backward(x, y, grad), None  # type: ignore[arg-type]


def pair_function(pair: Pair) -> Any:
    """``x -> pair.forward(x)`` as an autograd op whose backward is ``pair.backward``."""
    return lambda x: PairFunction.apply(x, pair)


PIECEWISE = Contract("piecewise", kinks=(0.0,))

declare(
    Op(
        "tanh",
        "(e^x - e^-x) / (e^x + e^-x), in (-1, 1); backward 1 - tanh². The Playground's default.",
        pair=lambda: TANH,
        reference=torch.tanh,
        layer="nn.Tanh()",
    )
)
declare(
    Op(
        "leaky_relu",
        "x for x > 0, ``slope`` · x otherwise; derivative 1 or ``slope`` (``slope`` at 0).",
        pair=leaky_relu_pair,
        reference=lambda x, slope: torch.nn.functional.leaky_relu(x, slope),
        contract=PIECEWISE,
        options={"slope": 0.01},
        variants=({}, {"slope": 0.2}),
        layer="nn.LeakyReLU({slope})",
    )
)
declare(
    Op(
        "elu",
        "x for x > 0, ``alpha`` (e^x - 1) otherwise; derivative 1 or ``alpha`` e^x.",
        pair=elu_pair,
        reference=lambda x, alpha: torch.nn.functional.elu(x, alpha),
        contract=PIECEWISE,
        options={"alpha": 1.0},
        variants=({}, {"alpha": 0.5}),
        layer="nn.ELU({alpha})",
    )
)
declare(
    Op(
        "softplus",
        "log(1 + e^x), a smooth ReLU; backward the sigmoid.",
        pair=lambda: SOFTPLUS,  # torch's softplus returns x above 20: logaddexp is exact
        reference=lambda x: torch.logaddexp(x, torch.zeros_like(x)),
        layer="nn.Softplus()",
    )
)
declare(
    Op(
        "silu",
        "x · s(x) (SiLU, also called swish — the name nnkit's plugin example "
        "registers); backward s(x)(1 + x(1 - s(x))).",
        pair=lambda: SILU,
        reference=torch.nn.functional.silu,
        layer="nn.SiLU()",
    )
)
declare(
    Op(
        "gelu",
        "x Φ(x), Φ the normal distribution function (exact, with erf); backward Φ(x) + x φ(x).",
        pair=lambda: GELU,
        reference=torch.nn.functional.gelu,
        layer="nn.GELU()",
    )
)
declare(
    Op(
        "mish",
        "x · tanh(softplus(x)); backward u + x (1 - u²) s(x) with u = tanh(softplus(x)).",
        pair=lambda: MISH,
        reference=torch.nn.functional.mish,
        layer="nn.Mish()",
    )
)
declare(Op("sine", "sin x; backward cos x.", pair=lambda: SINE, reference=torch.sin))

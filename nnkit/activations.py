"""``ACTIVATIONS``: the activation functions, as ``nn.Module`` wrappers around ``functions``.

Each built-in carries its gradient ``contract`` and a torch ``reference`` computing the same
mathematics with torch's own autograd; ``backend="torch"`` runs the reference instead.

>>> act = build_activation("relu")
>>> act(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> ACTIVATIONS.names()[:6]
['elu', 'gelu', 'identity', 'leaky_relu', 'linear', 'mish']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

import nnkit.maths.functions as F
import nnkit.maths.more_functions as M
from nnkit.maths.backend import check_backend
from nnkit.maths.contract import Contract
from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

ACTIVATIONS: Registry[Any] = Registry(
    "activation", discover=entry_point_discovery("nnkit.activations")
)


class Activation(nn.Module):
    """Base of the built-in activations: ``function`` is nnkit's, ``reference`` is torch's."""

    contract: ClassVar[Contract] = Contract("smooth")

    def __init__(self, backend: str = "nnkit") -> None:
        super().__init__()
        self.backend = check_backend(backend)

    def forward(self, x: Tensor) -> Tensor:
        return self.function(x) if self.backend == "nnkit" else self.reference(x)

    def function(self, x: Tensor) -> Tensor:
        """The hand-derived version."""
        raise NotImplementedError

    def reference(self, x: Tensor) -> Tensor:
        """The same mathematics in plain torch, differentiated by torch's autograd."""
        raise NotImplementedError

    def pair(self) -> F.Pair | None:
        """The hand-derived forward/backward pair, for whole-network backpropagation."""
        return None

    def extra_repr(self) -> str:
        return f"backend={self.backend}"


@ACTIVATIONS.register("step")
class Step(Activation):
    """1 where x >= 0, else 0; backward by a straight-through estimator (``ste``)."""

    contract = Contract("surrogate")
    variants = ({"ste": "identity"}, {"ste": "clipped"}, {"ste": "none"})

    def __init__(self, ste: str = "identity", backend: str = "nnkit") -> None:
        super().__init__(backend)
        self.ste = F.check_ste(ste)

    def function(self, x: Tensor) -> Tensor:
        return F.step(x, self.ste)

    def pair(self) -> F.Pair:
        return F.step_pair(self.ste)

    def reference(self, x: Tensor) -> Tensor:
        """The true step forward, with the gradient of the surrogate: s + (H(x) - s).detach()."""
        surrogate = {"identity": x, "clipped": x.clamp(-1, 1), "none": x * 0}[self.ste]
        return surrogate + ((x >= 0).to(x.dtype) - surrogate).detach()

    def extra_repr(self) -> str:
        return f"ste={self.ste}, backend={self.backend}"


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Activation):
    """1 / (1 + e^-x), numerically stable; backward s(1 - s)."""

    contract = Contract("smooth", double_backward=True)

    def function(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)

    def pair(self) -> F.Pair:
        return F.SIGMOID

    def reference(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    """max(x, 0); derivative 1 where x > 0, else 0 (0 at the kink, by convention)."""

    contract = Contract("piecewise", kinks=(0.0,))

    def function(self, x: Tensor) -> Tensor:
        return F.relu(x)

    def pair(self) -> F.Pair:
        return F.RELU

    def reference(self, x: Tensor) -> Tensor:
        return torch.relu(x)


@ACTIVATIONS.register("identity")
class Identity(Activation):
    """No activation at all: the linear model."""

    contract = Contract("smooth", double_backward=True)

    def function(self, x: Tensor) -> Tensor:
        return F.identity(x)

    def pair(self) -> F.Pair:
        return F.IDENTITY

    def reference(self, x: Tensor) -> Tensor:
        return x


@ACTIVATIONS.register("linear")
class Linear(Identity):
    """The TensorFlow Playground's name for no activation: f(x) = x."""


class PairActivation(Activation):
    """A built-in defined by its hand-derived ``pair()`` alone (``nnkit.maths.more_functions``):
    the layer runs the pair through ``PairFunction``."""

    def function(self, x: Tensor) -> Tensor:
        return M.PairFunction.apply(x, self.pair())


@ACTIVATIONS.register("tanh")
class Tanh(PairActivation):
    """(e^x - e^-x) / (e^x + e^-x), in (-1, 1); backward 1 - tanh². The Playground's default."""

    contract = Contract("smooth")

    def pair(self) -> F.Pair:
        return M.TANH

    def reference(self, x: Tensor) -> Tensor:
        return torch.tanh(x)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(PairActivation):
    """x for x > 0, ``slope`` · x otherwise; derivative 1 or ``slope`` (``slope`` at 0)."""

    contract = Contract("piecewise", kinks=(0.0,))
    variants: ClassVar[tuple[dict[str, Any], ...]] = ({}, {"slope": 0.2})

    def __init__(self, slope: float = 0.01, backend: str = "nnkit") -> None:
        super().__init__(backend)
        self.slope = float(slope)

    def pair(self) -> F.Pair:
        return M.leaky_relu_pair(self.slope)

    def reference(self, x: Tensor) -> Tensor:
        return torch.nn.functional.leaky_relu(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}, backend={self.backend}"


@ACTIVATIONS.register("elu")
class ELU(PairActivation):
    """x for x > 0, ``alpha`` (e^x - 1) otherwise; derivative 1 or ``alpha`` e^x."""

    contract = Contract("piecewise", kinks=(0.0,))
    variants: ClassVar[tuple[dict[str, Any], ...]] = ({}, {"alpha": 0.5})

    def __init__(self, alpha: float = 1.0, backend: str = "nnkit") -> None:
        super().__init__(backend)
        self.alpha = float(alpha)

    def pair(self) -> F.Pair:
        return M.elu_pair(self.alpha)

    def reference(self, x: Tensor) -> Tensor:
        return torch.nn.functional.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, backend={self.backend}"


@ACTIVATIONS.register("softplus")
class Softplus(PairActivation):
    """log(1 + e^x), a smooth ReLU; backward the sigmoid."""

    def pair(self) -> F.Pair:
        return M.SOFTPLUS

    def reference(self, x: Tensor) -> Tensor:
        return torch.logaddexp(x, torch.zeros_like(x))  # torch's softplus returns x above 20


@ACTIVATIONS.register("silu")
class SiLU(PairActivation):
    """x · s(x) (SiLU, also called swish — the name nnkit's plugin example registers);
    backward s(x)(1 + x(1 - s(x)))."""

    def pair(self) -> F.Pair:
        return M.SILU

    def reference(self, x: Tensor) -> Tensor:
        return torch.nn.functional.silu(x)


@ACTIVATIONS.register("gelu")
class GELU(PairActivation):
    """x Φ(x), Φ the normal distribution function (exact, with erf); backward Φ(x) + x φ(x)."""

    def pair(self) -> F.Pair:
        return M.GELU

    def reference(self, x: Tensor) -> Tensor:
        return torch.nn.functional.gelu(x)


@ACTIVATIONS.register("mish")
class Mish(PairActivation):
    """x · tanh(softplus(x)); backward u + x (1 - u²) s(x) with u = tanh(softplus(x))."""

    def pair(self) -> F.Pair:
        return M.MISH

    def reference(self, x: Tensor) -> Tensor:
        return torch.nn.functional.mish(x)


@ACTIVATIONS.register("sine")
class Sine(PairActivation):
    """sin x; backward cos x."""

    def pair(self) -> F.Pair:
        return M.SINE

    def reference(self, x: Tensor) -> Tensor:
        return torch.sin(x)


class FunctionActivation(nn.Module):
    """Wraps a plain function or an ``autograd.Function`` as a module. ``owner`` is what was
    registered; a ``Pair`` in its ``pair`` attribute opts it into whole-network backprop."""

    def __init__(self, fn: Callable[..., Tensor], owner: Any = None, **options: Any) -> None:
        super().__init__()
        self.fn, self.owner, self.options = fn, owner, options

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x, **self.options)

    def pair(self) -> F.Pair | None:
        pair = getattr(self.owner, "pair", None)
        return pair if isinstance(pair, F.Pair) and not self.options else None

    def extra_repr(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


def build_activation(name_or_obj: Any, backend: str = "nnkit", **options: Any) -> nn.Module:
    """An activation module from a registry name, a module class, a Function or a function.

    ``backend`` is passed to classes that accept it; ``options`` (e.g. ``ste``) to all.

    >>> build_activation("step", ste="clipped")
    Step(ste=clipped, backend=nnkit)
    """
    obj = ACTIVATIONS.get(name_or_obj)
    if isinstance(obj, nn.Module):
        return obj
    if inspect.isclass(obj) and issubclass(obj, torch.autograd.Function):
        return FunctionActivation(obj.apply, obj, **options)
    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        if "backend" in inspect.signature(obj).parameters:
            options = {**options, "backend": backend}
        return obj(**options)
    return FunctionActivation(obj, obj, **options)

"""``ACTIVATIONS``: the activation functions, as ``nn.Module`` layers.

Each built-in is made from its declaration in ``nnkit.maths`` (``nnkit.maths.declaration``):
its hand-derived pair, its gradient ``contract`` and a torch ``reference`` computing the same
mathematics with torch's own autograd; ``backend="torch"`` runs the reference instead.
Plugins register their own classes, Functions or functions here.

>>> act = build_activation("relu")
>>> act(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> build_activation("leaky_relu", slope=0.2)
LeakyRelu(slope=0.2, backend=nnkit)
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
from nnkit.maths.declaration import DECLARED, Op
from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

ACTIVATIONS: Registry[Any] = Registry(
    "activation", discover=entry_point_discovery("nnkit.activations")
)


class Activation(nn.Module):
    """A built-in activation, made from its declaration ``op`` (``nnkit.maths.declaration``):
    ``function`` is nnkit's hand-derived version, ``reference`` torch's, ``pair()`` the
    forward/backward pair the whole-network step and the native program run. ``options`` are
    the op's numbers (a slope, an estimator), checked when the layer is made."""

    op: ClassVar[Op]
    contract: ClassVar[Contract]
    variants: ClassVar[tuple[dict[str, Any], ...]]

    def __init__(self, backend: str = "nnkit", **options: Any) -> None:
        super().__init__()
        self.backend = check_backend(backend)
        unknown = sorted(set(options) - set(self.op.options))
        if unknown:
            valid = ", ".join(self.op.options) or "none"
            raise TypeError(
                f"activation '{self.op.name}' takes no option '{unknown[0]}' (its options: {valid})"
            )
        self.options = {**self.op.options, **options}
        self._pair = self.op.pair(**self.options)  # checks the options' values

    def forward(self, x: Tensor) -> Tensor:
        return self.function(x) if self.backend == "nnkit" else self.reference(x)

    def function(self, x: Tensor) -> Tensor:
        """The hand-derived version."""
        if self.op.function is not None:
            return self.op.function(x, **self.options)
        return M.PairFunction.apply(x, self._pair)

    def reference(self, x: Tensor) -> Tensor:
        """The same mathematics in plain torch, differentiated by torch's autograd."""
        return self.op.reference(x, **self.options)

    def pair(self) -> F.Pair:
        """The hand-derived forward/backward pair, for whole-network backpropagation."""
        return self._pair

    def extra_repr(self) -> str:
        return ", ".join(
            [*(f"{k}={v}" for k, v in self.options.items()), f"backend={self.backend}"]
        )


def activation_class(op: Op) -> type[Activation]:
    """The registry entry of a declared activation: an ``Activation`` of its own name."""
    title = "".join(part.capitalize() for part in op.name.split("_"))
    attributes = {"op": op, "contract": op.contract, "variants": op.variants, "__doc__": op.summary}
    return type(title, (Activation,), {**attributes, "__module__": __name__})


for _name, _op in sorted(DECLARED.items()):
    ACTIVATIONS.register(_name)(activation_class(_op))


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

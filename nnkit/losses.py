"""``LOSSES``: cost functions, as ``nn.Module`` layers, each built-in made from its
declaration in ``nnkit.maths.loss_functions``.

A loss says what it consumes: ``inputs`` is ``"values"`` (compared directly, like the article's
MSE on sigmoid outputs) or ``"logits"`` (the loss applies its own squashing), and ``targets`` is
``"dense"`` (same shape as the output) or ``"index"`` (one class index per sample).

>>> loss = build_loss("mse")
>>> loss(torch.tensor([0.7, 0.8]), torch.tensor([1.0, 0.0]))
tensor(0.3650)
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

import nnkit.maths.loss_functions as F
from nnkit.maths.backend import check_backend
from nnkit.maths.contract import Contract
from nnkit.maths.declaration import DECLARED_LOSSES, LossOp
from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

REDUCTIONS = ("mean", "sum")


LOSSES: Registry[Any] = Registry("loss", discover=entry_point_discovery("nnkit.losses"))


class Loss(nn.Module):
    """A built-in loss, made from its declaration ``op`` (``nnkit.maths.declaration``):
    ``function`` is nnkit's, ``reference`` is torch's, ``pair`` the whole-network step's."""

    op: ClassVar[LossOp]
    contract: ClassVar[Contract] = Contract("smooth")
    inputs: ClassVar[Literal["values", "logits"]] = "values"
    targets: ClassVar[Literal["dense", "index"]] = "dense"

    def __init__(self, reduction: str = "mean", backend: str = "nnkit") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"unknown reduction '{reduction}' (choose from: {', '.join(REDUCTIONS)})"
            )
        self.reduction, self.backend = reduction, check_backend(backend)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        if self.backend == "nnkit":
            return self.function(output, target)
        return self.reference(output, target)

    def function(self, output: Tensor, target: Tensor) -> Tensor:
        """The hand-derived version."""
        return self.op.function(output, target, self.reduction)

    def reference(self, output: Tensor, target: Tensor) -> Tensor:
        """The same mathematics from torch."""
        return self.op.reference(output, target, self.reduction)

    def pair(self, reduction: str | None = None) -> F.LossPair:
        """The hand-derived value/derivative pair, for whole-network backpropagation (with
        another ``reduction`` than the module's, if given)."""
        return self.op.pair(reduction or self.reduction)

    @staticmethod
    def sample_target(output: Tensor, generator: torch.Generator) -> Tensor:
        """A valid random target for ``output`` (used by the gradient checks)."""
        return torch.rand(output.shape, generator=generator, dtype=output.dtype)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction}, backend={self.backend}"


def loss_class(op: LossOp) -> type[Loss]:
    """The registry entry of a declared loss: a ``Loss`` of its own name."""
    title = "".join(part.capitalize() for part in op.name.split("_")) + "Loss"
    attributes: dict[str, Any] = {
        "op": op, "contract": op.contract, "inputs": op.inputs, "targets": op.targets,
        "__doc__": op.summary, "__module__": __name__,
    }  # fmt: skip
    if op.sample_target is not None:
        attributes["sample_target"] = staticmethod(op.sample_target)
    return type(title, (Loss,), attributes)


for _name, _op in sorted(DECLARED_LOSSES.items()):
    LOSSES.register(_name)(loss_class(_op))


def build_loss(name_or_obj: Any, backend: str = "nnkit", **options: Any) -> nn.Module:
    """A loss module from a registry name, a module class or a function ``(output, target)``.

    >>> build_loss("cross_entropy", reduction="sum")
    CrossEntropyLoss(reduction=sum, backend=nnkit)
    """
    obj = LOSSES.get(name_or_obj)
    if isinstance(obj, nn.Module):
        return obj
    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        if "backend" in inspect.signature(obj).parameters:
            options = {**options, "backend": backend}
        return obj(**options)
    return _FunctionLoss(obj, **options)


class _FunctionLoss(nn.Module):
    def __init__(self, fn: Any, **options: Any) -> None:
        super().__init__()
        self.fn, self.options = fn, options

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return self.fn(output, target, **self.options)

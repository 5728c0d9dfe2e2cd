"""An activation (and a loss) declared once: its forward and hand-derived derivative (the
``Pair``), torch's reference, its gradient contract and its native identity, in the module of
its mathematics (``LossOp`` for a cost).

``declare`` records it in ``DECLARED``; everything else reads that record — the registry entry
(``nnkit.activations`` makes one per declaration), the proof's rows (``nnkit.gradcheck``), the
native program's case (``Pair.native``, a name ``program.cpp`` exports) — so adding a built-in
activation is its declaration here and its case in ``program.cpp``.

>>> import torch
>>> from nnkit.maths.functions import Pair
>>> cube = Op(
...     "cube", "x³; backward 3x².",
...     pair=lambda: Pair(lambda x: x**3, lambda x, y, g: 3 * x * x * g, needs_input=True),
...     reference=lambda x: x**3,
... )
>>> cube.pair().backward(torch.tensor(2.0), None, torch.tensor(1.0))
tensor(12.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnkit.maths.contract import Contract

SMOOTH = Contract("smooth")


@dataclass(frozen=True)
class Op:
    """One activation. ``pair(**options)`` is its forward and hand-derived backward (its
    ``native`` names the same mathematics in the native program); ``reference(x, **options)``
    computes it with torch's own autograd; ``options`` are its numbers and their defaults (a
    slope, an alpha, an estimator) and ``variants`` the options the proof checks; ``function``,
    where given, is its own autograd Function (``x, **options -> y``), else the layer runs the
    pair; ``summary`` is the registry entry's docstring; ``aliases`` are other names for it;
    ``layer`` is torch's own layer for it, as code (``nn.Tanh()``, options as ``{slope}``), what
    ``python -m nnkit.script`` writes (empty: torch has none)."""

    name: str
    summary: str
    pair: Callable[..., Any]
    reference: Callable[..., Any]
    contract: Contract = SMOOTH
    options: dict[str, Any] = field(default_factory=dict)
    variants: tuple[dict[str, Any], ...] = ({},)
    function: Callable[..., Any] | None = None
    aliases: tuple[str, ...] = ()
    layer: str = ""


DECLARED: dict[str, Op] = {}


def declare(op: Op) -> Op:
    """Record ``op`` as a built-in activation (under its name and its aliases)."""
    for name in (op.name, *op.aliases):
        if name in DECLARED:
            raise ValueError(f"activation '{name}' is declared twice")
        DECLARED[name] = op
    return op


@dataclass(frozen=True)
class LossOp:
    """One cost. ``function(output, target, reduction)`` is its hand-derived version and
    ``pair(reduction)`` its value and derivative for the whole-network step (its ``native``
    names it in the native program); ``reference(output, target, reduction)`` is torch's own;
    ``inputs`` says whether it takes ``"values"`` or ``"logits"``, ``targets`` whether
    ``"dense"`` rows or class ``"index"``es; ``sample_target(output, generator)``, where
    given, draws a valid target for the proof (else uniform values like the output)."""

    name: str
    summary: str
    function: Callable[..., Any]
    pair: Callable[[str], Any]
    reference: Callable[..., Any]
    contract: Contract = SMOOTH
    inputs: str = "values"
    targets: str = "dense"
    sample_target: Callable[..., Any] | None = None


DECLARED_LOSSES: dict[str, LossOp] = {}


def declare_loss(op: LossOp) -> LossOp:
    """Record ``op`` as a built-in loss."""
    if op.name in DECLARED_LOSSES:
        raise ValueError(f"loss '{op.name}' is declared twice")
    DECLARED_LOSSES[op.name] = op
    return op

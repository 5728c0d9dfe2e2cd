"""An activation declared once: its forward and hand-derived derivative (the ``Pair``), torch's
reference, its gradient contract and its native identity, in the module of its mathematics.

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
    pair; ``summary`` is the registry entry's docstring; ``aliases`` are other names for it."""

    name: str
    summary: str
    pair: Callable[..., Any]
    reference: Callable[..., Any]
    contract: Contract = SMOOTH
    options: dict[str, Any] = field(default_factory=dict)
    variants: tuple[dict[str, Any], ...] = ({},)
    function: Callable[..., Any] | None = None
    aliases: tuple[str, ...] = ()


DECLARED: dict[str, Op] = {}


def declare(op: Op) -> Op:
    """Record ``op`` as a built-in activation (under its name and its aliases)."""
    for name in (op.name, *op.aliases):
        if name in DECLARED:
            raise ValueError(f"activation '{name}' is declared twice")
        DECLARED[name] = op
    return op

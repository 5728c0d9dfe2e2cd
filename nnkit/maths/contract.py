"""Gradient contracts: what an operation promises about its backward, so it can be proved.

>>> Contract("piecewise", kinks=(0.0,)).kind
'piecewise'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ContractKind = Literal["smooth", "piecewise", "surrogate"]
CONTRACT_KINDS: tuple[str, ...] = ("smooth", "piecewise", "surrogate")


@dataclass(frozen=True)
class Contract:
    """How a hand-derived backward is checked against its torch reference.

    - ``smooth``: differentiable everywhere; also checked with ``torch.autograd.gradcheck``
      (and ``gradgradcheck`` when ``double_backward``).
    - ``piecewise``: differentiable except at ``kinks``; checked away from them, and at each
      kink against the reference's convention.
    - ``surrogate``: the backward is a chosen surrogate (a straight-through estimator); the
      forward must match the reference's forward, the backward the reference's gradient.
    """

    kind: ContractKind
    kinks: tuple[float, ...] = ()
    double_backward: bool = False

    def __post_init__(self) -> None:
        if self.kind not in CONTRACT_KINDS:
            raise ValueError(
                f"unknown contract kind '{self.kind}' (choose from: {', '.join(CONTRACT_KINDS)})"
            )

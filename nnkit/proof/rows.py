"""What a proof row is, and how its error is measured: shared by ``nnkit.gradcheck`` (each op)
and ``nnkit.proof.networks`` (whole networks).

>>> errors(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))
(0.5, 0.2)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

EDGE_VALUES = (0.0, 1e-8, -1e-8, 1.0, -1.0, 30.0, -30.0, 1e3, -1e3)
TOLERANCE = 1e-12


@dataclass(frozen=True)
class CheckResult:
    """One row of the proof: an op (with its options), how it was checked, and the verdict."""

    kind: str
    name: str
    contract: str
    reference: str
    max_abs: float
    max_rel: float
    verdict: str  # "pass", "FAIL" or "unproved"
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Proved: an unproved row (no contract, no reference) does not count as passing."""
        return self.verdict == "pass"


def errors(actual: Tensor, expected: Tensor) -> tuple[float, float]:
    """Largest absolute difference, and that over the largest magnitude of ``expected``."""
    if actual.shape != expected.shape:
        return float("inf"), float("inf")
    diff = (actual - expected).abs()
    both_inf = torch.isinf(actual) & (actual == expected)
    diff = torch.where(both_inf | (actual.isnan() & expected.isnan()), 0.0, diff)
    diff = torch.where(actual.isnan() ^ expected.isnan(), float("inf"), diff)
    max_abs = float(diff.max()) if diff.numel() else 0.0
    scale = float(expected.abs().nan_to_num(posinf=0.0, neginf=0.0).max()) if diff.numel() else 0.0
    return max_abs, max_abs / scale if scale > 0 else max_abs

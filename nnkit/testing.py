"""Checks for plugin authors, to use in their own pytest suites.

>>> check_activation("sigmoid")
>>> check_loss("mse")
"""

from __future__ import annotations

from typing import Any

from nnkit.proof.ops import CheckResult, format_table
from nnkit.proof.ops import check_activation as _check_activation
from nnkit.proof.ops import check_loss as _check_loss


def _require(rows: list[CheckResult]) -> None:
    if any(row.verdict != "pass" for row in rows):
        raise AssertionError("gradient contract not met:\n" + format_table(rows))


def check_activation(activation: Any) -> None:
    """Assert that ``activation`` (a registry name, a module class, an ``autograd.Function`` or
    a function) declares a contract and a torch reference, and meets them."""
    _require(_check_activation(activation))


def check_loss(loss: Any) -> None:
    """Assert that ``loss`` (a registry name, a module class or a function) meets its contract."""
    _require(_check_loss(loss))

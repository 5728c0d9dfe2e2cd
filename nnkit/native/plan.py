"""What the native program can train: ``plan_program`` checks that every part of a training
step has a native version — each hidden activation's ``Pair.native``, the cost's
``LossPair.native``, the hidden layers' ``Layout`` (normalization, residual connections,
dropout), an optimizer the program implements (SGD with momentum and weight decay, Adam, AdamW,
as torch defines them) — and returns a ``NativeProgram``, or the reason it cannot (a plugin's
activation, an optimizer with options it lacks).

>>> import torch
>>> from nnkit.maths.loss_functions import mse_pair
>>> plan_program((), mse_pair("mean"), None, [2, 1], 1, torch.float16)
'the native program trains float32 and float64, not torch.float16'
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nnkit.maths.functions import SIGMOID
from nnkit.native.build import load
from nnkit.native.program import MAX_LAYERS, NativeProgram, optimizer_kind


@functools.cache
def native_names(kind: str) -> tuple[str, ...]:
    """The program's own names of its ``activation`` or ``loss`` cases, in its enum's order
    (``nnkit_activation_names``): what a ``Pair.native`` or ``LossPair.native`` must be.

    >>> native_names("loss")
    ('mse', 'bce', 'cross_entropy')
    """
    names = getattr(load(), f"nnkit_{kind}_names")
    names.restype = ctypes.c_char_p
    return tuple(name for name in names().decode().split(",") if name)


def plan_program(
    pairs: Sequence[Any],
    loss: Any,
    squash: Any,
    widths: Sequence[int],
    replicas: int,
    dtype: torch.dtype,
    penalty: tuple[str, float] = ("none", 0.0),
    layout: Layout | None = None,
) -> NativeProgram | str:
    """The native program for this network and cost (and the weights' ``penalty``: kind and
    rate; the hidden layers' ``layout``: normalization, residual connections, dropout), or why
    there is none (one line)."""
    if dtype not in (torch.float32, torch.float64):
        return f"the native program trains float32 and float64, not {dtype}"
    if len(widths) - 1 > MAX_LAYERS:
        return f"the native program trains at most {MAX_LAYERS} layers"
    activations, known, costs = [], native_names("activation"), native_names("loss")
    for pair in pairs:
        if getattr(pair, "native", None) not in known:
            return "an activation has no native version (a plugin's runs eagerly)"
        activations.append((known.index(pair.native), float(pair.argument)))
    if getattr(loss, "native", None) not in costs:
        return "the loss has no native version (a plugin's runs eagerly)"
    if squash is not None and squash is not SIGMOID:
        return "the output's squashing has no native version"
    layout = layout or Layout(("none",) * len(pairs), (False,) * len(pairs), False)
    return NativeProgram(
        tuple(int(w) for w in widths), tuple(activations), costs.index(loss.native),
        loss.reduction == "mean", squash is not None, replicas, dtype, penalty,
        tuple(layout.norms), tuple(layout.residual), layout.dropout,
    )  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """What a network's hidden layers hold beyond a weighted sum and an activation: each one's
    normalization (``NORMS``) and residual connection, and whether any drops units."""

    norms: tuple[str, ...]
    residual: tuple[bool, ...]
    dropout: bool


def optimizer_problem(optimizer: torch.optim.Optimizer) -> str | None:
    """Why the native program cannot take this optimizer's updates, or None."""
    kind = optimizer_kind(optimizer)
    if kind is None:
        return f"the native program has no {type(optimizer).__name__} (SGD, Adam and AdamW)"
    if len(optimizer.param_groups) != 1:
        return "the native program takes one parameter group"
    group = optimizer.param_groups[0]
    if kind == "sgd" and (group["dampening"] or group["nesterov"] or group["maximize"]):
        return "the native program's SGD has no dampening, nesterov or maximize"
    if kind != "sgd" and (group["amsgrad"] or group["maximize"]):
        return "the native program's Adam has no amsgrad or maximize"
    if not isinstance(group["lr"], float | int):
        return "the native program takes a plain number as learning rate"
    return None

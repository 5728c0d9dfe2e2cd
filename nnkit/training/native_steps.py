"""``trainer.compile=native``: a training call's minibatches as one call of the native program.

The whole-network step of ``nnkit.maths.network`` costs a few hundred microseconds on a tiny
network, nearly all of it torch's dispatch of some thirty small operations; the native
program (``nnkit.native``) runs the same mathematics for every minibatch of the call in a few
microseconds each. It updates the weights and the optimizer's state tensors in place, so
checkpoints and resume are unchanged; Adam's (or momentum's) state is created by torch's own
first step, which runs eagerly.

``auto`` chooses it on the CPU where it pays: the program is a plain loop (about 1.7 G
multiply-adds a second here), torch's step pays some 60 µs of dispatch per layer and then runs
its matrix products several times faster; ``pays`` compares the two estimates.

>>> pays(widths=[2, 4, 2, 1], batch_size=10)
True
>>> pays(widths=[784, 512, 10], batch_size=128)
False
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from nnkit.maths.network import DirectBackprop
from nnkit.native.build import unavailable_reason
from nnkit.native.program import (
    NativeProgram,
    NativeSteps,
    NotReady,
    optimizer_problem,
    plan_program,
)

NATIVE_MACS_PER_US = 600  # the program's multiply-adds per µs, forward, backward and update
EAGER_US_PER_LAYER = 60  # torch's dispatch per layer of the eager step
EAGER_MACS_PER_US = 3000  # torch's matrix products


def pays(widths: Sequence[int], batch_size: int) -> bool:
    """Whether the native program is estimated faster than the eager step for this network."""
    macs = batch_size * sum(a * b for a, b in itertools.pairwise(widths))
    layers = len(widths) - 1
    return macs / NATIVE_MACS_PER_US < EAGER_US_PER_LAYER * layers + macs / EAGER_MACS_PER_US


def widths_of(params: Sequence[Tensor]) -> list[int]:
    """A network's widths, input first, from its ``W1, b1, ..., Wk, bk``."""
    return [params[0].shape[-1], *(w.shape[-2] for w in params[0::2])]


def plan_native(
    direct: DirectBackprop,
    params: Sequence[Tensor],
    optimizer: torch.optim.Optimizer,
    replicas: int,
    setting: str,
) -> NativeProgram | None:
    """The run's native program, or None with one warning where it cannot run and was asked
    for (``setting`` "native") or the machine lacks the compiler it needs."""
    pairs, loss_pair, squash = direct
    device, toolchain = params[0].device.type, None
    if device != "cpu":
        problem: str | None = f"the native program runs on the CPU, not {device}"
    else:
        toolchain = unavailable_reason()
        problem = toolchain or optimizer_problem(optimizer)
    plan = problem or plan_program(
        pairs, loss_pair, squash, widths_of(params), replicas, params[0].dtype
    )
    if isinstance(plan, NativeProgram):
        return plan
    if setting == "native" or toolchain is not None:
        warnings.warn(f"trainer.compile={setting}: the step runs eagerly ({plan})", stacklevel=2)
    return None


def bind(program: NativeProgram, params: Sequence[Tensor], optimizer) -> NativeSteps | None:
    """The program over the weights and the optimizer's state, or None before that state
    exists (the first step is torch's)."""
    try:
        return program.bind(params, optimizer)
    except NotReady:
        return None


def offsets_of(sizes: Sequence[int]) -> Tensor:
    """Where each minibatch starts in the call's rows, and the end.

    >>> offsets_of([10, 10, 5])
    tensor([ 0, 10, 20, 25])
    """
    return torch.tensor([0, *itertools.accumulate(sizes)], dtype=torch.int64)

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from nnkit.errors import Notice
from nnkit.maths.extras import Extras
from nnkit.maths.network import DirectBackprop
from nnkit.native.build import unavailable_reason
from nnkit.native.plan import Layout, optimizer_problem, plan_program
from nnkit.native.program import NativeProgram, NativeSteps, NotReady

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
    penalty: tuple[str, float] = ("none", 0.0),
    layout: Layout | None = None,
) -> NativeProgram | str:
    """The run's native program, or why it cannot run (one line), warned once where it was
    asked for (``setting`` "native") or the machine lacks the compiler it needs."""
    pairs, loss_pair, squash = direct
    device, toolchain = params[0].device.type, None
    if device != "cpu":
        problem: str | None = f"the native program runs on the CPU, not {device}"
    else:
        toolchain = unavailable_reason()
        problem = toolchain or optimizer_problem(optimizer)
    widths, dtype = widths_of(params), params[0].dtype
    plan = problem or plan_program(
        pairs, loss_pair, squash, widths, replicas, dtype, penalty, layout
    )
    if isinstance(plan, NativeProgram):
        return plan
    if setting == "native" or toolchain is not None:
        warnings.warn(f"trainer.compile={setting}: the step runs eagerly ({plan})", Notice, 2)
    return plan


def bind(program: NativeProgram, params: Sequence[Tensor], optimizer) -> NativeSteps | None:
    """The program over the weights and the optimizer's state, or None before that state
    exists (the first step is torch's)."""
    try:
        return program.bind(params, optimizer)
    except NotReady:
        return None


Batches = list[tuple[Tensor, Tensor]]
FirstStep = Callable[[torch.optim.Optimizer, Tensor, Tensor], tuple[Tensor, Tensor]]
Rates = Callable[[int], Tensor | None]  # the next n steps' learning rates (None: unchanged)


@dataclass
class NativeCall:
    """One training call's results: each step's loss, the raw outputs (the batches' rows in
    order), the steps the program took, and the weights with the last step's gradients."""

    losses: Tensor
    outputs: Tensor
    native_steps: int
    last: tuple[list[Tensor], list[Tensor]]


class NativeCalls:
    """A run's training calls through its native program. ``params()`` gives the weights
    (``W1, b1, ...``), ``targets(y, dtype)`` the loss's targets from a batch's labels; ``along``
    is the batch dimension (1 with replicas); ``rates(n)`` the learning rates of the next n
    steps, a schedule's (None: the optimizer's rate for all)."""

    def __init__(
        self,
        program: NativeProgram,
        params: Callable[[], list[Tensor]],
        targets: Callable[[Tensor, torch.dtype], Tensor],
        along: int,
        rates: Rates = lambda _: None,
        extras: Extras | None = None,
    ) -> None:
        self.program, self.params, self.targets, self.along = program, params, targets, along
        self.rates, self.extras = rates, extras

    def masks(self, x: Tensor, offsets: Tensor) -> Tensor | None:
        """The dropout masks of the steps over ``x``'s rows cut at ``offsets`` (None: none)."""
        return self.extras.native_masks(x, offsets) if self.extras is not None else None

    def __call__(
        self, optimizer: torch.optim.Optimizer, batches: Batches, first_step: FirstStep
    ) -> NativeCall:
        """Every minibatch of the call in one call of the program; while the optimizer has no
        state yet (a run's first step), ``first_step`` — torch's — takes the first minibatch."""
        params = self.params()
        steps = bind(self.program, params, optimizer)
        if steps is not None:
            return self._train(steps, params, batches)
        out, loss = first_step(optimizer, *batches[0])
        first = NativeCall(loss.detach().reshape(1), out.detach(), 0, (params, []))
        steps = bind(self.program, params, optimizer) if len(batches) > 1 else None
        if steps is None:  # the call's one minibatch was that first step
            return first
        rest = self._train(steps, params, batches[1:])
        losses = torch.cat([first.losses.to(rest.losses.dtype), rest.losses])
        outputs = torch.cat([first.outputs.to(rest.outputs.dtype), rest.outputs], dim=self.along)
        return NativeCall(losses, outputs, rest.native_steps, rest.last)

    def rows(
        self,
        optimizer: torch.optim.Optimizer,
        x: Tensor,
        y: Tensor,
        offsets: Tensor,
        first_step: FirstStep,
    ) -> NativeCall:
        """The minibatches ``x[offsets[i]:offsets[i+1]]`` (rows already in order: a whole data
        epoch) in one call of the program, without cutting them apart and joining them again;
        as ``__call__`` where the optimizer has no state yet."""
        params = self.params()
        steps = bind(self.program, params, optimizer)
        if steps is None:
            bounds = offsets.tolist()
            cut = [(x[a:b], y[a:b]) for a, b in itertools.pairwise(bounds)]
            return self(optimizer, cut, first_step)
        return self._rows(steps, params, x, y, offsets)

    def _train(self, steps: NativeSteps, params: list[Tensor], batches: Batches) -> NativeCall:
        x = torch.cat([x for x, _ in batches], dim=self.along)
        y = torch.cat([y for _, y in batches], dim=self.along)
        sizes = [y.shape[self.along] for _, y in batches]
        return self._rows(steps, params, x, y, offsets_of(sizes))

    def _rows(
        self, steps: NativeSteps, params: list[Tensor], x: Tensor, y: Tensor, offsets: Tensor
    ) -> NativeCall:
        count = offsets.numel() - 1
        masks = self.masks(x, offsets)
        losses, outputs, grads = steps.train(
            x, self.targets(y, x.dtype), offsets, self.rates(count), masks
        )
        if self.extras is not None:
            self.extras.count_batches(count)
        return NativeCall(losses, outputs, count, (steps.trainable, grads))


def offsets_of(sizes: Sequence[int]) -> Tensor:
    """Where each minibatch starts in the call's rows, and the end.

    >>> offsets_of([10, 10, 5])
    tensor([ 0, 10, 20, 25])
    """
    return torch.tensor([0, *itertools.accumulate(sizes)], dtype=torch.int64)

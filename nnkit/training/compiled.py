"""``trainer.compile``: how the hand-derived step runs — eager, through torch.compile, or in
nnkit's native program (``nnkit.training.native_steps``).

``compile_mode`` decides. ``native`` is chosen by ``auto`` on the CPU wherever it pays (tiny
and small networks: ``native_steps.pays``); ``inductor`` (``true``, its older name) compiles
the step with torch.compile:

The direct step (``network.network_loss_grads``) is pure tensor arithmetic without an autograd
graph, so torch.compile takes it whole (``fullgraph``): inductor fuses its elementwise work — the
activations' derivatives, the loss's — around the matrix products (C++ on the CPU, Triton on
CUDA). The optimizer's update stays torch's own kernel, so checkpoints and resume are unchanged.

``auto`` compiles where it pays: compiling costs seconds (about 3 s here with torch's on-disk
cache warm, 20 s cold), and on the CPU compiled training measured 2-7 % faster than eager
(``python -m nnkit.bench``), which repays the compilation only in long runs; on CUDA, where
every small kernel's launch counts, fusion pays sooner. A step that cannot be compiled (a
plugin's Python) runs eagerly, with one warning.

>>> compile_mode("auto", torch.device("cpu"), 1000, widths=[2, 4, 2, 1], batch_size=10)
'native'
>>> compile_mode("auto", torch.device("cpu"), 1000, widths=[784, 512, 10], batch_size=128)
'eager'
>>> compile_mode("true", torch.device("cpu"), 10, widths=None, batch_size=32)
'inductor'
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from nnkit.errors import Notice
from nnkit.training.native_steps import pays

AUTO_MIN_STEPS = {"cpu": 400_000, "cuda": 20_000}  # planned optimizer steps for ``auto``


def compile_mode(
    setting: Any,
    device: torch.device,
    planned_steps: int,
    widths: Sequence[int] | None,
    batch_size: int,
) -> str:
    """``native``, ``inductor`` or ``eager`` for a run of ``planned_steps`` on ``device``, for
    a network of ``widths`` (None: not one the hand-derived step trains) at ``batch_size``."""
    choice = str(setting).lower()  # YAML's true and false arrive as booleans
    if choice in ("native", "inductor", "false"):
        return {"false": "eager"}.get(choice, choice)
    if choice == "true":
        return "inductor"
    if device.type == "cpu" and widths is not None and pays(widths, batch_size):
        return "native"
    return "inductor" if should_compile(choice, device, planned_steps) else "eager"


def should_compile(setting: Any, device: torch.device, planned_steps: int) -> bool:
    """Whether ``trainer.compile=setting`` compiles a run of ``planned_steps`` on ``device``."""
    setting = str(setting).lower()
    if setting != "auto":
        return setting == "true"
    return planned_steps >= AUTO_MIN_STEPS.get(device.type, AUTO_MIN_STEPS["cuda"])


def planned_steps(samples: int, batch_size: int, max_epochs: int, max_steps: int) -> int:
    """Optimizer steps a run will take: ``max_steps``, or every epoch's minibatches.

    >>> planned_steps(1000, 32, 10, -1)
    320
    """
    per_epoch = -(-samples // batch_size) if batch_size > 0 else 1
    epochs_steps = per_epoch * max_epochs
    return min(epochs_steps, max_steps) if max_steps > 0 else epochs_steps


class CompiledStep:
    """``fn`` compiled on its first call; if torch.compile cannot take it, ``fn`` itself from
    then on (``compiled`` says which). Calls must not mutate their inputs (a failed compiled
    call is repeated eagerly)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.compiled = fn, True
        # A new run starts from cleared caches: the runs of an in-process sweep would otherwise
        # pile up recompilations of the same step until torch's limit turned them eager.
        torch._dynamo.reset()
        self._call = torch.compile(fn, fullgraph=True, dynamic=False)

    def __call__(self, *args: Any) -> Any:
        if not self.compiled:
            return self.fn(*args)
        try:
            return self._call(*args)
        except Exception as error:  # any compiler failure: the eager step is exact
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            warnings.warn(f"trainer.compile: the step runs eagerly ({reason})", Notice, 2)
            self.compiled = False
            return self.fn(*args)

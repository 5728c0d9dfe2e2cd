"""Several data epochs of one network in one call of the native program: each epoch's rows in
its order, its optimizer steps, the validation split's cost and outputs, and the state after
each epoch kept — what ``nnkit.training.epoch_loop`` runs where the native program trains.

A call of K epochs gives exactly what K calls of ``NativeSteps.train`` over each epoch's rows
give (``tests/test_epoch_loop.py`` compares them), with the interpreter's work paid once.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from nnkit.native.build import load
from nnkit.native.program import NativeSteps, Spec

POINTERS = (
    "order", "x", "dense", "labels", "val_x", "val_dense", "val_labels",
    "losses", "outputs", "val_costs", "val_outputs", "kept",
)  # fmt: skip  # Epochs' pointer fields, in their order


class EpochsArgs(ctypes.Structure):
    """``program.cpp``'s ``Epochs``: the splits, the orders, where the results go and the file
    descriptor that stops the call."""

    _fields_ = [
        ("count", ctypes.c_int64),
        ("rows", ctypes.c_int64),
        ("val_rows", ctypes.c_int64),
        *[(name, ctypes.c_void_p) for name in POINTERS],
        ("stop_fd", ctypes.c_int64),
    ]


@dataclass
class EpochsResult:
    """K epochs' results: each step's cost (K, steps), the raw outputs in each epoch's order
    (K, rows, out), the validation costs (K,) and outputs (K, val_rows, out), and the state
    after each epoch (K, state): the weights, the optimizer's moments (``kept_values`` cuts
    them apart), then the last step's gradients."""

    losses: Tensor
    outputs: Tensor
    val_costs: Tensor
    val_outputs: Tensor
    kept: Tensor


def _ptr(tensor: Tensor | None) -> int | None:
    return tensor.data_ptr() if tensor is not None else None


def _split(targets: Tensor, dtype: torch.dtype) -> tuple[Tensor | None, Tensor | None]:
    """Class labels as int64, or dense targets in the program's dtype (contiguous)."""
    if targets.dtype == torch.int64:
        return None, targets.contiguous()
    return targets.to(dtype).contiguous(), None


def run_epochs(
    steps: NativeSteps,
    order: Tensor,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    offsets: Tensor,
    stop_fd: int = -1,
    rates: Tensor | None = None,
    masks: Tensor | None = None,
) -> EpochsResult:
    """The data epochs whose row orders are ``order`` (K, rows), on ``train`` (inputs as the
    first layer takes them, the loss's targets) and validated on ``val``; ``offsets`` where
    each minibatch of an epoch starts, and the end; ``rates`` every step's learning rate,
    epoch after epoch (None: the optimizer's); ``masks`` every training row's dropout masks
    (K, rows, hidden units), each epoch's rows in their order (None: no dropout). A byte
    readable on ``stop_fd`` ends the call
    after the epoch under way: the result then holds the epochs that ran."""
    program, spec = steps.program, steps.spec
    dtype = program.dtype
    x, val_x = train[0].to(dtype).contiguous(), val[0].to(dtype).contiguous()
    step_count = offsets.numel() - 1
    spec.steps, spec.rows = step_count, order.shape[1]
    steps.set_rates(rates, len(order) * step_count)
    steps.set_masks(masks, tuple(order.shape))
    spec.adam_step = float(steps.steps[0]) if steps.steps else 0.0
    result = _allocate(steps, order.shape, step_count, len(val_x))
    order = order.to(torch.int64).contiguous()
    splits: dict[str, Tensor | None] = {"x": x, "val_x": val_x}
    splits.update(zip(("dense", "labels"), _split(train[1], dtype), strict=True))
    splits.update(zip(("val_dense", "val_labels"), _split(val[1], dtype), strict=True))
    args = EpochsArgs(len(order), order.shape[1], len(val_x))
    for name, tensor in {"order": order, **splits, **vars(result)}.items():
        setattr(args, name, _ptr(tensor))
    args.stop_fd = stop_fd
    offsets = offsets.to(torch.int64).contiguous()
    done = _entry("epochs", dtype)(
        ctypes.byref(spec), ctypes.byref(args), steps._params, steps._grads,
        steps._first, steps._second, offsets.data_ptr(),
    )  # fmt: skip
    spec.lrs = spec.masks = None
    if done < 0:
        raise ValueError("the native program's epochs take one network over its whole split")
    if steps.steps:
        torch._foreach_add_(steps.steps, float(done * step_count))
    return EpochsResult(*(tensor[:done] for tensor in vars(result).values()))


def _allocate(
    steps: NativeSteps, shape: torch.Size, step_count: int, val_rows: int
) -> EpochsResult:
    """Room for K epochs' results."""
    (count, rows), dtype = shape, steps.program.dtype
    out = steps.program.widths[-1]
    state = sum(t.numel() for t in (*state_tensors(steps), *steps.grads))
    return EpochsResult(
        torch.empty(count, step_count, dtype=dtype),
        torch.empty(count, rows, out, dtype=dtype),
        torch.empty(count, dtype=dtype),
        torch.empty(count, val_rows, out, dtype=dtype),
        torch.empty(count, state, dtype=dtype),
    )


def state_tensors(steps: NativeSteps) -> list[Tensor]:
    """The tensors an epoch's kept state is made of, in its order: the weights (with batch
    normalization's running statistics), then the optimizer's first and second moments (or
    momentum buffers)."""
    return [*steps.params, *steps.first, *steps.second]


def kept_values(steps: NativeSteps, kept: Tensor) -> list[Tensor]:
    """One epoch's kept row cut into ``state_tensors``' shapes."""
    return _cut(kept, state_tensors(steps))


def _cut(row: Tensor, like: list[Tensor]) -> list[Tensor]:
    parts = row[: sum(t.numel() for t in like)].split([t.numel() for t in like])
    return [part.view_as(t) for part, t in zip(parts, like, strict=True)]


@functools.cache
def _entry(name: str, dtype: torch.dtype):
    """``nnkit_epochs`` for the dtype, its C signature declared."""
    suffix = "f64" if dtype == torch.float64 else "f32"
    fn = getattr(load(), f"nnkit_{name}_{suffix}")
    fn.argtypes = [ctypes.POINTER(Spec), ctypes.POINTER(EpochsArgs), *[ctypes.c_void_p] * 5]
    fn.restype = ctypes.c_int
    return fn

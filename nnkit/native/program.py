"""A network's training steps in the native program, one call per group of minibatches.

``NativeProgram`` (what ``nnkit.native.plan.plan_program`` found the program can train) is
bound to the weights and the optimizer's state tensors by ``bind``; the program updates them in
place, so checkpoints, resume and the optimizer's ``state_dict`` are torch's own, whichever
path trained them.

>>> import torch
>>> from nnkit.maths.loss_functions import mse_pair
>>> from nnkit.native.plan import plan_program
>>> net = torch.nn.Linear(2, 1)
>>> plan = plan_program((), mse_pair("mean"), None, [2, 1], 1, torch.float32)
>>> sgd = torch.optim.SGD(net.parameters(), lr=0.1)
>>> steps = plan.bind([net.weight, net.bias], sgd)
>>> x, t = torch.ones(4, 2), torch.zeros(4, 1)
>>> losses, outputs, grads = steps.train(x, t, torch.tensor([0, 2, 4]))
>>> losses.shape, outputs.shape
(torch.Size([2]), torch.Size([4, 1]))
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from nnkit.native.build import load

MAX_LAYERS = 32
OPTIMIZERS = ("sgd", "adam", "adamw")
PENALTIES = ("none", "l1", "l2")
NORMS = ("none", "layer", "batch")  # program.cpp's Norm, in its order


class Spec(ctypes.Structure):
    """``struct Spec`` of ``program.cpp``, field for field."""

    _fields_ = [
        ("layers", ctypes.c_int32),
        ("replicas", ctypes.c_int32),
        ("loss", ctypes.c_int32),
        ("mean", ctypes.c_int32),
        ("squash", ctypes.c_int32),
        ("optimizer", ctypes.c_int32),
        ("steps", ctypes.c_int32),
        ("rows", ctypes.c_int32),
        ("penalty", ctypes.c_int32),
        ("widths", ctypes.c_int32 * (MAX_LAYERS + 1)),
        ("activations", ctypes.c_int32 * MAX_LAYERS),
        ("arguments", ctypes.c_double * MAX_LAYERS),
        ("lr", ctypes.c_double),
        ("beta1", ctypes.c_double),
        ("beta2", ctypes.c_double),
        ("eps", ctypes.c_double),
        ("weight_decay", ctypes.c_double),
        ("momentum", ctypes.c_double),
        ("adam_step", ctypes.c_double),
        ("penalty_rate", ctypes.c_double),
        ("lrs", ctypes.c_void_p),
        ("norms", ctypes.c_int32 * MAX_LAYERS),
        ("residual", ctypes.c_int32 * MAX_LAYERS),
        ("norm_eps", ctypes.c_double),
        ("norm_momentum", ctypes.c_double),
        ("masks", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class NativeProgram:
    """What the native program trains: the widths, hidden activations (with their argument),
    the cost and the output's squashing, the replica count, the dtype and the weights'
    regularization (kind, rate); each hidden layer's normalization (``NORMS``) and residual
    connection, whether dropout masks come with the training rows, and the normalizations' ε
    and batch normalization's momentum.

    Its parameters (``bind``'s and ``maps``' ``params``) are ``W1, b1, ..., Wk, bk``, then γ, β
    of every normalized hidden layer, then the running mean and variance of every
    batch-normalized one (``trainable`` of them are the optimizer's)."""

    widths: tuple[int, ...]
    activations: tuple[tuple[int, float], ...]
    loss: int
    mean: bool
    squash: bool
    replicas: int
    dtype: torch.dtype
    penalty: tuple[str, float] = ("none", 0.0)
    norms: tuple[str, ...] = ()
    residual: tuple[bool, ...] = ()
    dropout: bool = False
    norm_eps: float = 1e-5
    norm_momentum: float = 0.1

    @property
    def trainable(self) -> int:
        """How many of the parameters the optimizer moves (the rest: running statistics)."""
        return 2 * (len(self.widths) - 1) + 2 * sum(kind != "none" for kind in self.norms)

    def sizes(self) -> list[int]:
        """Each parameter's values per replica, in the parameters' order."""
        layers = list(zip(self.widths[:-1], self.widths[1:]))
        sizes = [n for a, b in layers for n in (a * b, b)]
        hidden = list(zip(self.norms, self.widths[1:-1]))
        sizes += [w for kind, w in hidden if kind != "none" for _ in range(2)]
        return sizes + [w for kind, w in hidden if kind == "batch" for _ in range(2)]

    @property
    def hidden_units(self) -> int:
        """The hidden units: a training row's dropout masks."""
        return sum(self.widths[1:-1])

    def spec(self) -> Spec:
        """The fixed part of the program's ``Spec`` (the optimizer's part is filled per call)."""
        spec = Spec(layers=len(self.widths) - 1, replicas=self.replicas, loss=self.loss)
        spec.mean, spec.squash = int(self.mean), int(self.squash)
        spec.penalty, spec.penalty_rate = PENALTIES.index(self.penalty[0]), self.penalty[1]
        for i, width in enumerate(self.widths):
            spec.widths[i] = width
        for i, (kind, argument) in enumerate(self.activations):
            spec.activations[i], spec.arguments[i] = kind, argument
        for i, (norm, residual) in enumerate(zip(self.norms, self.residual, strict=True)):
            spec.norms[i], spec.residual[i] = NORMS.index(norm), int(residual)
        spec.norm_eps, spec.norm_momentum = self.norm_eps, self.norm_momentum
        return spec

    def bind(self, params: Sequence[Tensor], optimizer: torch.optim.Optimizer) -> NativeSteps:
        """The program over these weights (``W1, b1, ..., Wk, bk``) and ``optimizer``'s state;
        raises ``NotReady`` while that state does not exist yet (before torch's first step)."""
        return NativeSteps(self, list(params), optimizer)

    def maps(self, params: Sequence[Tensor], points: Tensor, replica: int = 0) -> Tensor:
        """Every hidden unit's value and the raw outputs at each point: (n, units), layer by
        layer — what a playground draws as each neuron's picture of the plane."""
        points = points.to(self.dtype).contiguous()
        units = sum(self.widths[1:])
        values = torch.empty(points.shape[0], units, dtype=self.dtype)
        pointers = _pointers(params, self.dtype, len(self.sizes()))
        fn = _function(f"nnkit_maps_{_suffix(self.dtype)}")
        fn(
            ctypes.byref(self.spec()),
            replica,
            pointers,
            _ptr(points),
            points.shape[0],
            _ptr(values),
        )
        return values


class NotReady(Exception):
    """The optimizer has no state yet: its first step is torch's, which creates the state."""


class NativeSteps:
    """A ``NativeProgram`` bound to weights and optimizer state: ``train`` runs many steps."""

    def __init__(
        self, program: NativeProgram, params: list[Tensor], optimizer: torch.optim.Optimizer
    ) -> None:
        self.program, self.params, self.optimizer = program, params, optimizer
        self.spec = program.spec()
        group = optimizer.param_groups[0]
        trainable = params[: program.trainable]
        states = [optimizer.state.get(p, {}) for p in trainable]
        kind = optimizer_kind(optimizer) or "sgd"  # the plan refused any other
        self.steps: list[Tensor] = []
        first: list[Tensor] | None = None
        second: list[Tensor] | None = None
        if kind == "sgd" and group["momentum"]:
            first = [s.get("momentum_buffer") for s in states]
        elif kind != "sgd":
            first = [s.get("exp_avg") for s in states]
            second = [s.get("exp_avg_sq") for s in states]
            self.steps = [s.get("step") for s in states]
        if any(t is None for t in (first or []) + (second or []) + self.steps):
            raise NotReady
        self.first, self.second = first or [], second or []  # the optimizer's state tensors
        self.grads = [torch.zeros_like(p) for p in trainable]
        self._rates: Tensor | None = None  # the learning rates of the call under way
        self._masks: Tensor | None = None  # the dropout masks of the call under way
        dtype, count = program.dtype, len(program.sizes())
        self._params, self._grads = _pointers(params, dtype, count), _pointers(self.grads, dtype)
        self._first = _pointers(first, dtype) if first is not None else None
        self._second = _pointers(second, dtype) if second is not None else None
        self._fill_optimizer(kind, group)
        self._train = _function(f"nnkit_train_{_suffix(program.dtype)}")

    def _fill_optimizer(self, kind: str, group: dict[str, Any]) -> None:
        spec = self.spec
        spec.optimizer = OPTIMIZERS.index(kind)
        spec.lr, spec.weight_decay = float(group["lr"]), float(group["weight_decay"])
        spec.momentum = float(group.get("momentum", 0.0))
        if kind != "sgd":
            spec.beta1, spec.beta2 = (float(b) for b in group["betas"])
            spec.eps = float(group["eps"])

    def train(
        self,
        x: Tensor,
        targets: Tensor,
        offsets: Tensor,
        rates: Tensor | None = None,
        masks: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, list]:
        """The optimizer steps of the minibatches ``x[offsets[i]:offsets[i+1]]`` (along the
        batch dimension; with replicas x is (R, N, in)), in order, each at its rate of
        ``rates`` (float64; None: the optimizer's), each row with its dropout ``masks`` (x's
        rows by ``hidden_units``; None: no dropout). Returns each step's cost (summed over
        replicas), the raw outputs (as x's rows) and the last step's gradients."""
        program, spec = self.program, self.spec
        x = x.to(program.dtype).contiguous()
        labels = targets.dtype == torch.int64
        targets = targets.contiguous() if labels else targets.to(program.dtype).contiguous()
        offsets = offsets.to(torch.int64).contiguous()
        steps = offsets.numel() - 1
        spec.steps, spec.rows = steps, x.shape[-2]
        self.set_rates(rates, steps)
        self.set_masks(masks, x.shape[:-1])
        spec.adam_step = float(self.steps[0]) if self.steps else 0.0
        losses = torch.empty(steps, dtype=program.dtype)
        outputs = torch.empty(*x.shape[:-1], program.widths[-1], dtype=program.dtype)
        self._train(
            ctypes.byref(spec), self._params, self._grads, self._first, self._second, _ptr(x),
            None if labels else _ptr(targets), _ptr(targets) if labels else None,
            _ptr(offsets), _ptr(losses), _ptr(outputs),
        )  # fmt: skip
        spec.lrs = spec.masks = None
        if self.steps:
            torch._foreach_add_(self.steps, float(steps))
        return losses, outputs, self.grads

    @property
    def trainable(self) -> list[Tensor]:
        """The parameters the optimizer moves (without batch normalization's statistics)."""
        return self.params[: self.program.trainable]

    def set_masks(self, masks: Tensor | None, rows: tuple[int, ...]) -> None:
        """The next call's dropout masks: one row of ``hidden_units`` per training row (kept
        until the call ends); refused where the program's dropout and the masks disagree."""
        program = self.program
        if (masks is not None) != program.dropout:
            raise ValueError("dropout masks come with the rows exactly where the network drops")
        if masks is not None and tuple(masks.shape) != (*rows, program.hidden_units):
            raise ValueError(f"masks {tuple(masks.shape)} for rows {rows}")
        self._masks = None if masks is None else masks.to(program.dtype).contiguous()
        self.spec.masks = None if self._masks is None else self._masks.data_ptr()

    def set_rates(self, rates: Tensor | None, steps: int) -> None:
        """The next call's learning rates: one per step of ``rates`` (kept until the call
        ends), else the optimizer's rate now for every step."""
        self.spec.lr = float(self.optimizer.param_groups[0]["lr"])
        self._rates = None if rates is None else rates.to(torch.float64).contiguous()
        if self._rates is not None and self._rates.numel() != steps:
            raise ValueError(f"{self._rates.numel()} learning rates for {steps} steps")
        self.spec.lrs = None if self._rates is None else self._rates.data_ptr()


def optimizer_kind(optimizer: torch.optim.Optimizer) -> str | None:
    if type(optimizer) is torch.optim.SGD:
        return "sgd"
    if type(optimizer) is torch.optim.AdamW:
        return "adamw"
    if type(optimizer) is torch.optim.Adam:
        decoupled = optimizer.param_groups[0].get("decoupled_weight_decay", False)
        return "adamw" if decoupled else "adam"
    return None


def _function(name: str) -> Any:
    """One of the program's entry points, with its C signature declared."""
    fn = getattr(load(), name)
    pointer, spec = ctypes.c_void_p, ctypes.POINTER(Spec)
    if name.startswith("nnkit_train"):
        fn.argtypes = [spec, *[pointer] * 10]
    else:
        fn.argtypes = [spec, ctypes.c_int, pointer, pointer, ctypes.c_int64, pointer]
    fn.restype = ctypes.c_int
    return fn


def _suffix(dtype: torch.dtype) -> str:
    return "f64" if dtype == torch.float64 else "f32"


def _ptr(tensor: Tensor) -> int:
    return tensor.data_ptr()


def _pointers(tensors: Sequence[Tensor], dtype: torch.dtype, count: int | None = None) -> Any:
    """The tensors' addresses, checked: the program reads them as ``dtype``, ``count`` of them
    (where given)."""
    if count is not None and len(tensors) != count:
        raise ValueError(f"the native program takes {count} parameter tensors, not {len(tensors)}")
    for tensor in tensors:
        if not tensor.is_contiguous() or tensor.device.type != "cpu":
            raise ValueError("the native program takes contiguous CPU tensors")
        if tensor.dtype != dtype:
            raise ValueError(f"the native program's {dtype} network got a {tensor.dtype} tensor")
    return (ctypes.c_void_p * len(tensors))(*(t.data_ptr() for t in tensors))

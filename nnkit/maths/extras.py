"""An MLP's hidden layers beyond the article: their normalization, dropout and residual
connections (``model.norm``, ``model.dropout``, ``model.residual``), as modules and state.

``Extras`` holds torch's own normalization modules (``nn.LayerNorm``, ``nn.BatchNorm1d``: their
scale, shift and running statistics are the checkpoint's), the dropout rates and a counter of
the masks drawn: the k-th mask is drawn by a generator seeded with (the model's dropout seed,
k), so a run, its resume and its native program see the same masks, bit for bit. ``stack``
gives the hand-derived network (``nnkit.maths.stack``) what it needs for one forward pass;
``block`` runs one hidden layer's extras layer by layer (torch's modules for
``backend=torch``, the hand-derived Functions for ``backend=nnkit``).

>>> extras = Extras([3, 3], [3, 3], norm="layer", dropout=0.5, residual=True, backend="nnkit")
>>> stack = extras.stack(torch.zeros(4, 3), training=True)
>>> stack.norms, stack.residual, tuple(stack.masks[0].shape)
(('layer', 'layer'), (True, True), (4, 3))
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.maths.layers import (
    EPS,
    MOMENTUM,
    NORMS,
    DropoutFunction,
    NormFunction,
    check_batch_rows,
    dropout_mask,
    norm_forward,
    update_running,
)
from nnkit.maths.stack import Stack
from nnkit.native.plan import Layout
from nnkit.registry import unknown_name_message


def per_layer(value: Any, layers: int, key: str) -> list[Any]:
    """One value for every hidden layer, or the list of one per layer."""
    values = list(value) if isinstance(value, list | tuple) else [value] * layers
    if len(values) != layers:
        raise ValueError(
            f"{key} lists {len(values)} values for {layers} hidden layers; "
            "give one value, or one per layer"
        )
    return values


def check_norms(norms: Sequence[Any]) -> list[str]:
    """Every name in ``NORMS``, else one line with the choices."""
    for kind in norms:
        if kind not in NORMS:
            raise ValueError(unknown_name_message("model.norm", str(kind), list(NORMS)))
    return [str(kind) for kind in norms]


def check_rates(rates: Sequence[Any]) -> list[float]:
    """Every dropout rate a number in [0, 1)."""
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"model.dropout={rate} must be a rate from 0 up to (not) 1")
    return [float(rate) for rate in rates]


class ReplicaNorm(nn.Module):
    """One normalization for R networks side by side: the scale, shift (and for batch
    normalization the running statistics) of each, ``(R, width)``; with ``backend=torch`` its
    forward is torch's autograd over the same formula (torch's layers take no replica
    dimension)."""

    def __init__(self, kind: str, width: int, replicas: int) -> None:
        super().__init__()
        self.kind, self.eps, self.momentum = kind, EPS, MOMENTUM
        self.weight = nn.Parameter(torch.ones(replicas, width))
        self.bias = nn.Parameter(torch.zeros(replicas, width))
        if kind == "batch":
            self.register_buffer("running_mean", torch.zeros(replicas, width))
            self.register_buffer("running_var", torch.ones(replicas, width))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, z: Tensor) -> Tensor:
        """``z`` is (R, N, width)."""
        if self.kind == "batch" and not self.training:
            mean, var = (t.unsqueeze(1) for t in _running(self))
        else:
            over = -1 if self.kind == "layer" else -2
            mean = z.mean(over, keepdim=True)
            var = (z - mean).square().mean(over, keepdim=True)
        xhat = (z - mean) / (var + self.eps).sqrt()
        if self.kind == "batch" and self.training:
            Extras.move_running(self, z)
        return xhat * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


def _norm_module(kind: str, width: int, replicas: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if replicas:
        return ReplicaNorm(kind, width, replicas)
    return nn.LayerNorm(width) if kind == "layer" else nn.BatchNorm1d(width)


class Extras(nn.Module):
    """The normalization, dropout and residual connection of each hidden layer (inputs of
    ``widths_in``, outputs of ``widths_out``); ``norm`` and ``dropout`` one value or one per
    layer; ``residual`` adds a layer's input to its output wherever the two are as wide.
    ``replicas`` (R > 0): the extras of R networks trained side by side (``nnkit.replicas``),
    each parameter with a leading replica dimension and each network its own dropout seed."""

    dropout_seed: Tensor  # where a layer drops: the seed (one per replica) of its masks
    dropout_draws: Tensor  # the masks drawn so far: the next one's number

    def __init__(self, widths_in: Sequence[int], widths_out: Sequence[int], norm: Any = "none",
                 dropout: Any = 0.0, residual: bool = False, backend: str = "nnkit",
                 replicas: int = 0) -> None:  # fmt: skip
        super().__init__()
        layers = len(widths_out)
        self.kinds = tuple(check_norms(per_layer(norm, layers, "model.norm")))
        self.rates = tuple(check_rates(per_layer(dropout, layers, "model.dropout")))
        if not isinstance(residual, bool):
            raise ValueError(f"model.residual={residual} must be true or false")
        self.residual = tuple(residual and a == b for a, b in zip(widths_in, widths_out))
        if residual and not any(self.residual):
            raise ValueError(
                f"model.residual=true needs a hidden layer as wide as its input; the widths "
                f"{list(widths_in)} → {list(widths_out)} have none (e.g. model.hidden=[8, 8])"
            )
        self.backend, self.widths, self.widths_in = backend, tuple(widths_out), tuple(widths_in)
        self.norms = nn.ModuleList(
            _norm_module(kind, width, replicas) for kind, width in zip(self.kinds, widths_out)
        )
        self.keep = torch.tensor(  # each hidden unit's chance to be kept in training
            [1.0 - rate for rate, w in zip(self.rates, widths_out) for _ in range(w)],
            dtype=torch.float64,
        )
        if any(self.rates):
            seeds = torch.randint(2**62, (max(replicas, 1),))  # from the run's seeded generator
            self.register_buffer("dropout_seed", seeds if replicas else seeds[0])
            self.register_buffer("dropout_draws", torch.tensor(0, dtype=torch.int64))

    @property
    def active(self) -> bool:
        """Whether any hidden layer has anything beyond its weighted sum and activation."""
        return any(k != "none" for k in self.kinds) or any(self.rates) or any(self.residual)

    def normalized(self) -> list[nn.Module]:
        """The normalization modules of the normalized layers, first layer first."""
        return [m for m, kind in zip(self.norms, self.kinds) if kind != "none"]

    def batch_normalized(self) -> list[nn.Module]:
        """The batch normalization modules, first layer first."""
        return [m for m, kind in zip(self.norms, self.kinds) if kind == "batch"]

    def norm_params(self) -> list[Tensor]:
        """γ, β of every normalized layer, first layer first."""
        return [p for m in self.normalized() for p in (_tensor(m, "weight"), _tensor(m, "bias"))]

    def masks(self, x: Tensor) -> list[Tensor | None]:
        """The next training step's dropout masks for a batch like ``x`` (``(N, in)``, or
        ``(R, N, in)`` with replicas: each replica's drawn by its own seed), one per hidden
        layer (None where its rate is 0), in ``x``'s dtype and device."""
        if not any(self.rates):
            return [None] * len(self.rates)
        every = self._draw(x.shape[-2]).to(x.device, x.dtype).split(list(self.widths), -1)
        return [mask if rate else None for mask, rate in zip(every, self.rates)]

    def _draw(self, rows: int) -> Tensor:
        """The next step's masks of every hidden unit, ``(rows, units)`` (``(R, rows, units)``
        with replicas: each replica's by its own seed): the k-th step's drawn by a generator
        seeded with (the dropout seed, k); a unit whose layer keeps all has the mask 1."""
        each, drawn = [], int(self.dropout_draws)
        for seed in self.dropout_seed.reshape(-1).tolist():
            generator = torch.Generator().manual_seed((seed * 1_000_003 + drawn) % 2**63)
            each.append(dropout_mask(rows, self.keep, generator))
        self.dropout_draws.fill_(drawn + 1)
        return torch.stack(each) if self.dropout_seed.dim() else each[0]

    def native_masks(self, x: Tensor, offsets: Tensor) -> Tensor | None:
        """The masks of the training steps over ``x[offsets[i]:offsets[i+1]]`` (along the
        rows), drawn as those steps would draw them, as the native program takes them: each
        row's hidden units, layer after layer (ones where a layer keeps every unit); None
        where no layer drops."""
        if not any(self.rates):
            return None
        bounds = offsets.tolist()
        steps = [self._draw(end - begin) for begin, end in itertools.pairwise(bounds)]
        return torch.cat(steps, dim=-2).to(x.dtype)

    def counters(self) -> list[Tensor]:
        """The counters that move by one per training step: the masks drawn, and each batch
        normalization's ``num_batches_tracked``."""
        tracked = [_tensor(m, "num_batches_tracked") for m in self.batch_normalized()]
        drawn = [self.dropout_draws] if any(self.rates) else []
        return [*drawn, *tracked]

    @torch.no_grad()
    def count_batches(self, steps: int) -> None:
        """``num_batches_tracked`` after ``steps`` training steps the native program took (its
        forward passes do not count them as ``nn.BatchNorm1d``'s do)."""
        for module in self.batch_normalized():
            _tensor(module, "num_batches_tracked").add_(steps)

    def running(self) -> list[Tensor]:
        """Batch normalization's running means and variances, layer after layer."""
        batch = self.batch_normalized()
        return [t for m in batch for t in _running(m)]

    def layout(self) -> Layout:
        """The hidden layers' shape as the native program takes it."""
        return Layout(self.kinds, self.residual, any(self.rates))

    def stack(self, x: Tensor, training: bool) -> Stack:
        """What the hand-derived network needs for one pass over ``x``: in ``training`` this
        step's masks, batch normalization on the batch (its running statistics moved)."""
        running: list[tuple[Tensor, Tensor] | None] = []
        for module, kind in zip(self.norms, self.kinds):
            batch = kind == "batch"
            running.append(_running(module) if batch else None)
            if batch and training:
                _tensor(module, "num_batches_tracked").add_(1)
        masks = self.masks(x) if training else [None] * len(self.rates)
        return Stack(self.kinds, self.residual, self.norm_params(), running, masks, training)

    def block(self, layer: int, a: Tensor, z: Tensor, activation: nn.Module,
              mask: Tensor | None) -> Tensor:  # fmt: skip
        """Hidden layer ``layer`` from its input ``a`` and weighted sum ``z``, one module at a
        time: normalization, activation, dropout (``mask``), residual connection."""
        module, kind = self.norms[layer], self.kinds[layer]
        if kind == "batch" and module.training:
            check_batch_rows(z.shape[-2])
        if kind != "none" and self.backend == "nnkit":
            running = None
            if kind == "batch" and not module.training:
                running = _running(module)
            weight, bias, eps = _tensor(module, "weight"), _tensor(module, "bias"), module.eps
            u = NormFunction.apply(z, weight, bias, kind, eps, running)
            if kind == "batch" and module.training:
                self.move_running(module, z)
        else:
            u = module(z)
        h = activation(u)
        if mask is not None:
            h = DropoutFunction.apply(h, mask) if self.backend == "nnkit" else h * mask
        return a + h if self.residual[layer] else h

    @staticmethod
    @torch.no_grad()
    def move_running(module: nn.Module, z: Tensor) -> None:
        """What ``nn.BatchNorm1d`` does to its running statistics in a training pass."""
        weight, bias, eps = _tensor(module, "weight"), _tensor(module, "bias"), module.eps
        assert isinstance(eps, float)
        _, kept = norm_forward(z.detach(), weight, bias, "batch", eps)
        update_running(_running(module), kept, z.shape[-2])
        _tensor(module, "num_batches_tracked").add_(1)


def _tensor(module: nn.Module, name: str) -> Tensor:
    """A module's parameter or buffer ``name``."""
    value = getattr(module, name)
    assert isinstance(value, Tensor)
    return value


def _running(module: nn.Module) -> tuple[Tensor, Tensor]:
    """A batch normalization's running mean and variance."""
    return _tensor(module, "running_mean"), _tensor(module, "running_var")


@contextlib.contextmanager
def evaluating(net: nn.Module) -> Iterator[None]:
    """``net`` in evaluation mode (no dropout, batch normalization's running statistics), and
    back to the mode it was in.

    >>> net = nn.Dropout(0.5)
    >>> with evaluating(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    was = net.training
    net.train(False)
    try:
        yield
    finally:
        net.train(was)

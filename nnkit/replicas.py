"""Many networks as one program: R copies of an MLP, each with its own weights, trained at once.

The parameters carry a leading replica dimension — weights ``(R, out, in)``, biases
``(R, out)`` — so every layer is one batched product (``baddbmm``) for all R networks, and the
whole-network backpropagation (``nnkit.maths.network``) runs unchanged over the extra dimension.
Replica r starts from exactly the weights a single run with ``seed + r`` starts from.

>>> nets = ReplicaMLP.build(lambda: MLP(2, 1, hidden=[3]), seeds=[0, 1])
>>> nets(torch.zeros(5, 2)).shape
torch.Size([2, 5, 1])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nnkit.maths.extras import Extras
from nnkit.maths.linear import linear
from nnkit.maths.network import network
from nnkit.maths.stack import Stack
from nnkit.models import MLP
from nnkit.rng import seed_everything


class ReplicaMLP(nn.Module):
    """``len(nets)`` MLPs of one shape, stacked; ``make`` builds one more of that shape (to
    take a single replica out, for predictions and figures)."""

    def __init__(self, nets: Sequence[MLP], make: Callable[[], MLP]) -> None:
        super().__init__()
        self.replicas, self.make = len(nets), make
        linears = [list(net.layers)[::2] for net in nets]  # per net, its linear layers
        by_layer = list(zip(*linears, strict=True))  # per layer, every net's linear
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([lin.weight.detach() for lin in ls])) for ls in by_layer]
        )  # each (R, out, in)
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([lin.bias.detach() for lin in ls])) for ls in by_layer]
        )  # each (R, out)
        self.activations = nn.ModuleList(list(nets[0].layers)[1::2])
        self.pairs = nets[0].pairs
        self.features = nets[0].features  # parameter-free: one for every replica
        self.backend = linears[0][0].backend
        self.backprop = f"{nets[0].backprop}; {self.replicas} replicas as one batched program"
        self.extras = _stacked_extras([net.extras for net in nets]) if nets[0].extras else None

    @classmethod
    def build(cls, make: Callable[[], MLP], seeds: Sequence[int]) -> ReplicaMLP:
        """One network per seed, each built as a single run with that seed builds it."""
        nets = []
        for seed in seeds:
            seed_everything(seed)
            nets.append(make())
        return cls(nets, make)

    def network_params(self) -> list[Tensor]:
        """``W1, b1, ..., Wk, bk``, each with the leading replica dimension."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def native_params(self) -> list[Tensor]:
        """The native program's parameters (``MLP.native_params``), stacked."""
        if self.extras is None:
            return self.network_params()
        return [*self.network_params(), *self.extras.norm_params(), *self.extras.running()]

    def stack(self, x: Tensor, training: bool | None = None) -> Stack | None:
        """The hidden layers' normalization, dropout and residual connections for one pass over
        ``x`` (``(R, N, in)``), as ``MLP.stack``."""
        if self.extras is None:
            return None
        return self.extras.stack(x, self.training if training is None else training)

    def expand(self, x: Tensor) -> Tensor:
        """The first layer's inputs: ``model.features`` of ``x``, or ``x`` itself."""
        return self.features(x) if self.features is not None else x

    def _linear(self, x: Tensor, layer: int) -> Tensor:
        weight, bias = self.weights[layer], self.biases[layer]
        if self.backend == "nnkit":
            return linear(x, weight, bias)  # (R, N, out), hand-derived
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # (R, N, out)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` is ``(R, N, in)`` (each replica its own batch) or ``(N, in)`` (one for all)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.replicas, -1, -1)  # (R, N, in)
        x = self.expand(x)
        if self.pairs is not None and self.backend == "nnkit":
            stack = self.stack(x)
            return network(x, self.pairs, *self.network_params(), stack=stack)  # (R, N, out)
        extras, value = self.extras, x
        masks = extras.masks(x) if extras and self.training else [None] * len(self.activations)
        for layer, activation in enumerate(self.activations):
            z = self._linear(value, layer)
            if extras is None:
                value = activation(z)
            else:
                value = extras.block(layer, value, z, activation, masks[layer])
        return self._linear(value, len(self.weights) - 1)

    def replica(self, r: int) -> MLP:
        """Replica ``r`` as a network of its own."""
        net = self.make()
        with torch.no_grad():
            params = net.network_params()  # W1, b1, ..., Wk, bk
            for layer, (weight, bias) in enumerate(zip(params[::2], params[1::2], strict=True)):
                weight.copy_(self.weights[layer][r])
                bias.copy_(self.biases[layer][r])
            if self.extras is not None and net.extras is not None:
                _copy_extras(self.extras, net.extras, r)
        return net


def _stacked_extras(each: Sequence[Extras | None]) -> Extras:
    """One ``Extras`` for every replica's: their normalizations' parameters and statistics
    stacked, their dropout seeds side by side."""
    first = each[0]
    assert first is not None and all(e is not None for e in each)
    with torch.random.fork_rng(devices=[]):  # its own seeds are replaced below
        stacked = Extras(first.widths_in, first.widths, list(first.kinds), list(first.rates),
                         any(first.residual), first.backend, replicas=len(each))  # fmt: skip
    dtypes = [t.dtype for t in first.state_dict().values() if t.is_floating_point()]
    if dtypes:
        stacked = stacked.to(dtypes[0])
    states = [e.state_dict() for e in each if e is not None]
    with torch.no_grad():
        for name, target in stacked.state_dict().items():
            sources = [state[name] for state in states]
            target.copy_(torch.stack(sources) if target.dim() > sources[0].dim() else sources[0])
    return stacked


@torch.no_grad()
def _copy_extras(stacked: Extras, single: Extras, r: int) -> None:
    """Replica ``r``'s part of ``stacked`` into a single network's extras."""
    for target, source in zip(single.state_dict().values(), stacked.state_dict().values()):
        target.copy_(source[r] if source.dim() > target.dim() else source)

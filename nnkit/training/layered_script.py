"""The network of a script ``python -m nnkit.script`` writes where its hidden layers hold more
than the article's weighted sum and activation: torch's ``nn.LayerNorm`` and
``nn.BatchNorm1d``, dropout with nnkit's very masks (drawn by a generator seeded, as nnkit seeds
it, with the run's dropout seed and the count of masks drawn), and residual connections as a
plain addition (``nnkit.training.plain_script``).

>>> from nnkit.models import MLP
>>> net = MLP(2, 1, hidden=[3, 3], norm="batch", dropout=0.1, residual=True)
>>> code = layered_network(net.extras, [2, 3, 3], 1, ["nn.Tanh()", "nn.Tanh()"])
>>> "nn.BatchNorm1d(3)" in code, "self.skips = [False, True]" in code
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NORM_LAYERS = {"none": "nn.Identity()", "layer": "nn.LayerNorm({})", "batch": "nn.BatchNorm1d({})"}


def layered_network(
    extras: Any, widths: Sequence[int], outputs: int, activations: Sequence[str]
) -> str:
    """``class Network`` and ``network()`` for hidden layers of ``widths`` (inputs first) with
    ``extras``' normalizations, dropout rates and residual connections."""
    linears = [f"nn.Linear({a}, {b})" for a, b in zip(widths, [*widths[1:], outputs])]
    norms = [NORM_LAYERS[kind].format(w) for kind, w in zip(extras.kinds, widths[1:])]
    seed = int(extras.dropout_seed) if any(extras.rates) else 0
    return f'''DROPOUT_SEED = {seed}  # nnkit's: the k-th step's masks come from (this seed, k)


class Network(nn.Module):
    """Each hidden layer: its neurons' weighted sums, a normalization, the activation, dropout
    (in training), and where it is as wide as its input, that input added (a residual
    connection); the last layer's values are the output."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([{", ".join(linears)}])
        self.norms = nn.ModuleList([{", ".join(norms)}])
        self.activations = nn.ModuleList([{", ".join(activations)}])
        self.rates = {list(extras.rates)}  # each hidden layer's dropout
        self.widths = {list(extras.widths)}
        self.skips = {list(extras.residual)}
        self.drawn = 0  # the masks drawn so far

    def masks(self, rows):
        """This step's dropout masks, as nnkit draws them: one uniform number per row and
        hidden unit, each kept with probability 1 - its layer's rate and scaled by 1 / that."""
        keep = [1.0 - rate for rate, width in zip(self.rates, self.widths) for _ in range(width)]
        keep = torch.tensor(keep, dtype=torch.float64)
        generator = torch.Generator().manual_seed((DROPOUT_SEED * 1_000_003 + self.drawn) % 2**63)
        self.drawn += 1
        drawn = torch.rand(rows, len(keep), generator=generator, dtype=torch.float64)
        return ((drawn < keep).to(torch.float64) / keep).split(self.widths, dim=1)

    def forward(self, x):
        dropping = self.training and any(self.rates)
        masks = self.masks(len(x)) if dropping else [None] * len(self.widths)
        for layer, activation in enumerate(self.activations):
            h = activation(self.norms[layer](self.layers[layer](x)))
            if masks[layer] is not None and self.rates[layer]:
                h = h * masks[layer].to(h.dtype)
            x = x + h if self.skips[layer] else h
        return self.layers[-1](x)


def network() -> Network:
    return Network()


'''

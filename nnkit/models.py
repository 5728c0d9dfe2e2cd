"""``MODELS``: plain ``nn.Module`` architectures, built from nnkit's layers and activations.

Every model builder takes the data's ``in_features`` and ``out_features`` first, then its own
parameters. ``backend="nnkit"`` runs the hand-derived Functions, ``backend="torch"`` torch's
built-ins: the same mathematics, and the same initial weights for the same seed.

>>> net = build_model("mlp", in_features=7, out_features=10, hidden=[4])
>>> net
MLP(
  (layers): Sequential(
    (0): Linear(in_features=7, out_features=4, bias=True, backend=nnkit)
    (1): Relu(backend=nnkit)
    (2): Linear(in_features=4, out_features=10, bias=True, backend=nnkit)
  )
)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

import nnkit.maths.functions as F
from nnkit.activations import build_activation
from nnkit.initializers import check_init, initialize
from nnkit.maths.backend import check_backend
from nnkit.maths.extras import Extras, evaluating
from nnkit.maths.features import Features, check_features
from nnkit.maths.linear import LinearFunction
from nnkit.maths.network import layer_values, network
from nnkit.maths.stack import Stack
from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

MODELS: Registry[Any] = Registry("model", discover=entry_point_discovery("nnkit.models"))


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same initialisation) with nnkit's hand-derived backward."""

    def __init__(self, in_features: int, out_features: int, backend: str = "nnkit") -> None:
        super().__init__(in_features, out_features)
        self.backend = check_backend(backend)

    def forward(self, x: Tensor) -> Tensor:
        if self.backend == "nnkit":
            return LinearFunction.apply(x, self.weight, self.bias)
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend}"


MAX_PARAMETERS = 100_000_000  # weights and biases a model may hold (400 MB of float32)


def pair_of(activation: nn.Module) -> F.Pair | None:
    """An activation module's hand-derived forward/backward pair, or None if it brings none."""
    make_pair = getattr(activation, "pair", None)
    return make_pair() if make_pair is not None else None


def _check_size(hidden: list[int], widths: list[int]) -> None:
    count = sum((a + 1) * b for a, b in itertools.pairwise(widths))
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"model.hidden={hidden} would have {count} weights and biases "
            f"({count * 4 / 2**30:.1f} GiB); nnkit builds at most {MAX_PARAMETERS}"
        )


@MODELS.register("mlp")
class MLP(nn.Module):
    """Fully connected layers of the given ``hidden`` widths (a number: one hidden layer of that
    width), an activation after each hidden layer (one name for all, or one per layer), and a
    linear output layer. ``features`` (for two inputs: x1, x2, x1_sq, x2_sq, x1x2, sin_x1,
    sin_x2) expands the inputs first, as the TensorFlow Playground's input features do.
    ``init`` (with its ``init_args``) is how the weights start (``nnkit.initializers``).
    ``norm`` (``none``, ``layer``, ``batch``; one for all hidden layers or one per layer),
    ``dropout`` (a rate, or one per layer) and ``residual`` (each hidden layer as wide as its
    input adds that input to its output) extend the hidden layers (``nnkit.maths.extras``).

    ``backprop`` says how gradients are computed: with ``backend="nnkit"`` and activations that
    bring their hand-derived pair, the whole network is one Function (``nnkit.maths.network``);
    otherwise each layer is its own Function (or torch's autograd for ``backend="torch"``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int | Sequence[int] = (32,),
        activation: str | Sequence[str] = "relu",
        activation_args: dict[str, Any] | None = None,
        backend: str = "nnkit",
        features: Sequence[str] | None = None,
        init: str = "default",
        init_args: dict[str, Any] | None = None,
        norm: str | Sequence[str] = "none",
        dropout: float | Sequence[float] = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        check_init(init, init_args)
        self.features = Features(check_features(features, in_features)) if features else None
        in_features = len(features) if features else in_features
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        if any(not isinstance(w, int) or w <= 0 for w in hidden):
            raise ValueError(
                f"model.hidden={hidden} must list positive widths, e.g. [8] or [16, 16]"
            )
        names = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
        if len(names) != len(hidden):
            raise ValueError(
                f"model.activation lists {len(names)} names for {len(hidden)} hidden layers; "
                f"give one name, or one per layer"
            )
        widths = [in_features, *hidden]
        _check_size(hidden, [*widths, out_features])
        linears: list[Linear] = []  # built in the order of the layers (their initialisation)
        layers: list[nn.Module] = []
        for width_in, width_out, name in zip(widths, hidden, names):
            linears.append(Linear(width_in, width_out, backend))
            layers += [linears[-1], build_activation(name, backend, **(activation_args or {}))]
        linears.append(Linear(widths[-1], out_features, backend))
        layers.append(linears[-1])
        self.layers = nn.Sequential(*layers)
        self._linears = linears  # a plain list: the same modules, not registered twice
        initialize(linears, init, init_args)
        extras = Extras(widths, hidden, norm, dropout, residual, backend)
        self.extras = extras if extras.active else None
        self.pairs, self.backprop = self._choose_backprop(backend)

    def _choose_backprop(self, backend: str) -> tuple[tuple[F.Pair, ...] | None, str]:
        """Whole-network backpropagation (one hand-derived Function) where every activation
        brings its forward/backward pair; else one Function per layer, and why."""
        if backend != "nnkit":
            return None, "torch autograd (model.backend=torch)"
        activations = list(self.layers)[1::2]
        pairs = [pair_of(a) for a in activations]
        lacking = [repr(a) for a, p in zip(activations, pairs) if p is None]
        if lacking:
            return None, f"per layer: {lacking[0]} brings no hand-derived forward/backward pair"
        return tuple(
            p for p in pairs if p is not None
        ), "whole network: one hand-derived backward (nnkit.maths.network)"

    def network_params(self) -> list[Tensor]:
        """``W1, b1, ..., Wk, bk``: the layers' weights and biases, input layer first."""
        return [p for layer in self._linears for p in (layer.weight, layer.bias)]

    def expand(self, x: Tensor) -> Tensor:
        """The first layer's inputs: ``model.features`` of ``x``, or ``x`` itself."""
        return self.features(x) if self.features is not None else x

    def norm_params(self) -> list[Tensor]:
        """γ, β of every normalized hidden layer (``model.norm``), first layer first."""
        return self.extras.norm_params() if self.extras is not None else []

    def native_params(self) -> list[Tensor]:
        """What the native program takes: ``W1, b1, ..., Wk, bk``, every normalization's γ, β,
        then batch normalization's running means and variances."""
        if self.extras is None:
            return self.network_params()
        return [*self.network_params(), *self.extras.norm_params(), *self.extras.running()]

    def stack(self, x: Tensor, training: bool | None = None) -> Stack | None:
        """The hidden layers' normalization, dropout and residual connections for one pass over
        ``x`` (in training, or not: the module's mode by default); None where there are none."""
        if self.extras is None:
            return None
        return self.extras.stack(x, self.training if training is None else training)

    @torch.no_grad()
    def hidden_values(self, x: Tensor) -> list[Tensor]:
        """Every hidden layer's output for ``x`` (in evaluation: no dropout, batch
        normalization's running statistics), first layer first.

        >>> [tuple(v.shape) for v in MLP(2, 1, hidden=[3, 4]).hidden_values(torch.zeros(5, 2))]
        [(5, 3), (5, 4)]
        """
        x = self.expand(x)
        with evaluating(self):
            if self.pairs is not None:
                return layer_values(x, self.pairs, self.network_params(), self.stack(x))[1]
            modules, values, value = list(self.layers), [], x
            for layer, (linear, activation) in enumerate(zip(modules[0:-1:2], modules[1::2])):
                z = linear(value)
                extras = self.extras
                value = extras.block(layer, value, z, activation, None) if extras else activation(z)
                values.append(value)
            return values

    def forward(self, x: Tensor) -> Tensor:
        x = self.expand(x)
        if self.extras is not None:
            if self.pairs is None:
                return self._layer_by_layer(x, self.extras)
            stack = self.extras.stack(x, self.training)
            return network(x, self.pairs, *self.network_params(), stack=stack)
        if self.pairs is None:
            return self.layers(x)  # (N, out_features)
        return network(x, self.pairs, *self.network_params())  # (N, out_features)

    def _layer_by_layer(self, x: Tensor, extras: Extras) -> Tensor:
        """One module at a time, each hidden layer with its extras (``Extras.block``)."""
        modules = list(self.layers)
        masks = extras.masks(x) if self.training else [None] * len(extras.rates)
        value = x
        for layer, (linear, activation) in enumerate(zip(modules[0:-1:2], modules[1::2])):
            value = extras.block(layer, value, linear(value), activation, masks[layer])
        return modules[-1](value)  # (N, out_features)


@MODELS.register("linear")
def linear(
    in_features: int,
    out_features: int,
    backend: str = "nnkit",
    features: Sequence[str] | None = None,
    init: str = "default",
    init_args: dict[str, Any] | None = None,
) -> MLP:
    """No hidden layer: the linear model that the article contrasts with networks (on
    ``features`` such as x1_sq and x2_sq, it draws a circle); ``init`` as ``MLP``'s."""
    return MLP(in_features, out_features, hidden=(), backend=backend, features=features,
               init=init, init_args=init_args)  # fmt: skip


def build_model(name_or_obj: Any, in_features: int, out_features: int, **params: Any) -> nn.Module:
    """A model from a registry name (or a builder) for data of the given sizes."""
    return MODELS.get(name_or_obj)(in_features, out_features, **params)

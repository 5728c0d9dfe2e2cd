"""``INITIALIZERS``: how a network's weights start — ``model.init=NAME`` and its options
``model.init_args={...}`` — one registry entry each, applied by torch's own ``nn.init``
functions from torch's generator, which the run seeds: the same seed, the same start.

Every entry fills one linear layer's ``weight`` (out × in) and ``bias`` in place:

- ``default``: torch's ``nn.Linear`` default, as the layer was built (Kaiming uniform with
  a = √5, biases uniform in ±1/√fan_in): what every nnkit network had before this registry;
- ``xavier_uniform``, ``xavier_normal``: Glorot's, variance 2 / (fan_in + fan_out) times
  ``gain``² (5/3 suits tanh); biases 0;
- ``kaiming_uniform``, ``kaiming_normal``: He's, variance 2 / fan_in for ``nonlinearity=relu``
  (``leaky_relu``, ``tanh``, ``sigmoid``, ``linear`` take their own gains); biases 0;
- ``normal``: every weight from N(0, ``std``²), biases 0;
- ``small_random``: the TensorFlow Playground's start, weights uniform in ±0.5, biases 0.1;
- ``zeros``, ``ones``: every weight and bias the same constant. Every hidden unit of a layer
  then computes the same thing and receives the same correction, so they stay the same: the
  symmetry that random starts break (``tests/test_promises.py`` holds it).

>>> layer = torch.nn.Linear(3, 2)
>>> initialize([layer], "ones")
>>> layer.weight.tolist(), layer.bias.tolist()
([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [1.0, 1.0])
>>> INITIALIZERS.names()  # doctest: +NORMALIZE_WHITESPACE
['default', 'kaiming_normal', 'kaiming_uniform', 'normal', 'ones', 'small_random',
 'xavier_normal', 'xavier_uniform', 'zeros']
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.plugins import entry_point_discovery
from nnkit.registry import Registry

INITIALIZERS: Registry[Any] = Registry(
    "initializer", discover=entry_point_discovery("nnkit.initializers")
)


@INITIALIZERS.register("default")
def default(weight: Tensor, bias: Tensor | None) -> None:
    """torch's ``nn.Linear`` default, drawn when the layer was built: nothing to redo."""


@INITIALIZERS.register("xavier_uniform")
def xavier_uniform(weight: Tensor, bias: Tensor | None, gain: float = 1.0) -> None:
    """Glorot uniform: weights in ±gain·√(6 / (fan_in + fan_out)), biases 0."""
    nn.init.xavier_uniform_(weight, gain=gain)
    _zero(bias)


@INITIALIZERS.register("xavier_normal")
def xavier_normal(weight: Tensor, bias: Tensor | None, gain: float = 1.0) -> None:
    """Glorot normal: weights from N(0, gain² · 2 / (fan_in + fan_out)), biases 0."""
    nn.init.xavier_normal_(weight, gain=gain)
    _zero(bias)


@INITIALIZERS.register("kaiming_uniform")
def kaiming_uniform(weight: Tensor, bias: Tensor | None, nonlinearity: str = "relu") -> None:
    """He uniform: weights in ±gain·√(3 / fan_in) (gain √2 for relu), biases 0."""
    nn.init.kaiming_uniform_(weight, nonlinearity=nonlinearity)  # type: ignore[arg-type]
    _zero(bias)


@INITIALIZERS.register("kaiming_normal")
def kaiming_normal(weight: Tensor, bias: Tensor | None, nonlinearity: str = "relu") -> None:
    """He normal: weights from N(0, gain² / fan_in) (gain √2 for relu), biases 0."""
    nn.init.kaiming_normal_(weight, nonlinearity=nonlinearity)  # type: ignore[arg-type]
    _zero(bias)


@INITIALIZERS.register("normal")
def normal(weight: Tensor, bias: Tensor | None, std: float = 0.01) -> None:
    """Every weight from N(0, std²), biases 0."""
    nn.init.normal_(weight, mean=0.0, std=std)
    _zero(bias)


@INITIALIZERS.register("small_random")
def small_random(weight: Tensor, bias: Tensor | None) -> None:
    """The TensorFlow Playground's start: weights uniform in ±0.5, biases 0.1."""
    nn.init.uniform_(weight, -0.5, 0.5)
    if bias is not None:
        nn.init.constant_(bias, 0.1)


@INITIALIZERS.register("zeros")
def zeros(weight: Tensor, bias: Tensor | None) -> None:
    """Every weight and bias 0: no unit of a layer differs from another, ever."""
    nn.init.zeros_(weight)
    _zero(bias)


@INITIALIZERS.register("ones")
def ones(weight: Tensor, bias: Tensor | None) -> None:
    """Every weight and bias 1: the symmetry of ``zeros``, with signals that flow."""
    nn.init.ones_(weight)
    if bias is not None:
        nn.init.ones_(bias)


def _zero(bias: Tensor | None) -> None:
    if bias is not None:
        nn.init.zeros_(bias)


def check_init(name: str, options: Mapping[str, Any] | None = None) -> None:
    """Raise a one-line ``ValueError`` for an unknown initializer (with a did-you-mean) or an
    option it does not take."""
    fill = INITIALIZERS.get(name)
    known = [p for p in inspect.signature(fill).parameters if p not in ("weight", "bias")]
    for key in options or {}:
        if key not in known:
            valid = ", ".join(known) if known else "none"
            raise ValueError(f"unknown option '{key}' for init '{name}' (options: {valid})")


@torch.no_grad()
def initialize(
    layers: Iterable[nn.Linear], name: str = "default", options: Mapping[str, Any] | None = None
) -> None:
    """Fill every layer's weight and bias by the initializer ``name`` with ``options``."""
    check_init(name, options)
    fill = INITIALIZERS.get(name)
    for layer in layers:
        fill(layer.weight, layer.bias, **dict(options or {}))

"""Proof of the whole-network backpropagation and of the linear layer, in float64.

A network built on nnkit's one network Function (``nnkit.maths.network``) and the same network on
torch's built-in layers, with the same weights, get the same inputs; their outputs and the
gradients for the input and every weight and bias must agree to ``TOLERANCE`` (relative), over
depths 1–4, widths 1–64, a batch of one and a batch of many, random and edge inputs. For the
step, the torch twin is the straight-through surrogate, as in ``nnkit.gradcheck``.

>>> row = check_linear()
>>> row.verdict, row.kind
('pass', 'layer')
"""

from __future__ import annotations

import fnmatch
import itertools
from typing import Any

import torch
from torch import Tensor

from nnkit.activations import ACTIVATIONS, build_activation
from nnkit.maths.linear import linear
from nnkit.models import MLP
from nnkit.proof.rows import EDGE_VALUES, TOLERANCE, CheckResult, errors

DEPTHS = (0, 1, 2, 3)  # hidden layers: networks of 1 to 4 layers
WIDTHS = (1, 7, 64)
BATCHES = (1, 33)


def _inputs(batch: int, features: int, generator: torch.Generator) -> Tensor:
    """Random inputs; a batch of many also holds the edge values."""
    x = 3 * torch.randn(batch, features, generator=generator, dtype=torch.float64)
    if batch > 1:
        edges = torch.tensor(EDGE_VALUES, dtype=torch.float64)
        x[: len(edges)] = edges[: min(batch, len(edges))].unsqueeze(1)
    return x


def _grads(net: torch.nn.Module, x: Tensor, upstream_seed: int) -> list[Tensor]:
    x = x.detach().requires_grad_(True)
    out = net(x)
    generator = torch.Generator().manual_seed(upstream_seed)
    upstream = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    grads = torch.autograd.grad(out, [x, *net.parameters()], upstream)
    return [out.detach(), *grads]


def twins(activation: Any, options: dict[str, Any], hidden: list[int], seed: int):
    """The network on nnkit's network Function, and the same weights on torch's layers."""
    shape = {"in_features": 3, "out_features": 4, "hidden": hidden, "activation": activation}
    torch.manual_seed(seed)
    ours = MLP(**shape, activation_args=options).double()
    torch.manual_seed(seed)
    theirs = MLP(**shape, activation_args=options, backend="torch").double()
    return ours, theirs


def _worst(activation: Any, options: dict[str, Any]) -> tuple[float, float, str]:
    worst_abs, worst_rel, problem = 0.0, 0.0, ""
    generator = torch.Generator().manual_seed(0)
    for depth, width, batch in itertools.product(DEPTHS, WIDTHS, BATCHES):
        names = (
            activation
            if isinstance(activation, str)
            else list(itertools.islice(itertools.cycle(activation), depth))
        )
        ours, theirs = twins(names, options, [width] * depth, seed=depth * 100 + width)
        if not ours.backprop.startswith("whole network"):
            return float("nan"), float("nan"), f"not on the whole-network path: {ours.backprop}"
        x = _inputs(batch, 3, generator)
        for actual, expected in zip(_grads(ours, x, batch), _grads(theirs, x, batch)):
            err_abs, err_rel = errors(actual, expected)
            worst_abs, worst_rel = max(worst_abs, err_abs), max(worst_rel, err_rel)
    if not worst_rel <= TOLERANCE:
        problem = f"relative error {worst_rel:.1e} > {TOLERANCE:.0e}"
    return worst_abs, worst_rel, problem


def check_network(activation: Any, options: dict[str, Any] | None = None) -> CheckResult:
    """One row: the whole-network Function with ``activation`` (a name, or a list of names
    used in turn) against torch autograd of the same network."""
    options = options or {}
    label = activation if isinstance(activation, str) else "+".join(activation)
    label += f"[{','.join(f'{k}={v}' for k, v in options.items())}]" if options else ""
    try:
        err_abs, err_rel, problem = _worst(activation, options)
    except Exception as error:
        err_abs, err_rel, problem = float("nan"), float("nan"), f"{type(error).__name__}: {error}"
    verdict = "FAIL" if problem else "pass"
    return CheckResult(
        "network", f"mlp[{label}]", "composed", "torch layers", err_abs, err_rel, verdict, problem
    )


def check_linear() -> CheckResult:
    """The linear layer's Function against ``torch.nn.functional.linear`` — one input, a batch,
    a batch with a further leading dimension — values and gradients for input, weight, bias."""
    generator = torch.Generator().manual_seed(0)
    worst_abs, worst_rel = 0.0, 0.0
    for shape in ((1, 3), (33, 3), (2, 5, 3)):
        x = _edge_filled(3 * torch.randn(shape, generator=generator, dtype=torch.float64))
        weight = torch.randn(4, 3, generator=generator, dtype=torch.float64)
        bias = torch.randn(4, generator=generator, dtype=torch.float64)
        upstream = torch.randn((*shape[:-1], 4), generator=generator, dtype=torch.float64)
        results = []
        for fn in (linear, torch.nn.functional.linear):
            leaves = [t.detach().requires_grad_(True) for t in (x, weight, bias)]
            out = fn(*leaves)
            results.append([out.detach(), *torch.autograd.grad(out, leaves, upstream)])
        for actual, expected in zip(*results):
            err_abs, err_rel = errors(actual, expected)
            worst_abs, worst_rel = max(worst_abs, err_abs), max(worst_rel, err_rel)
    problem = "" if worst_rel <= TOLERANCE else f"relative error {worst_rel:.1e} > {TOLERANCE:.0e}"
    verdict = "FAIL" if problem else "pass"
    return CheckResult(
        "layer", "linear", "smooth", "F.linear", worst_abs, worst_rel, verdict, problem
    )


def _edge_filled(x: Tensor) -> Tensor:
    flat = x.reshape(-1)
    edges = torch.tensor(EDGE_VALUES, dtype=x.dtype)[: flat.numel()]
    flat[: len(edges)] = edges
    return x


def brings_pair(activation: Any, options: dict[str, Any]) -> bool:
    """Whether the activation, with ``options``, brings a hand-derived pair (and so runs in the
    whole-network Function)."""
    module = build_activation(activation, **options)
    return getattr(module, "pair", lambda: None)() is not None


def network_variants(pattern: str = "*") -> list[tuple[Any, dict[str, Any]]]:
    """Every registered activation that brings a pair (each variant it declares), and a mix of
    all of them, for ``check_network``."""
    variants: list[tuple[Any, dict[str, Any]]] = []
    with_pairs: list[str] = []
    for name in ACTIVATIONS.names(pattern):
        obj = ACTIVATIONS.get(name)
        declared: tuple[dict[str, Any], ...] = getattr(obj, "variants", ({},))
        for options in declared:
            if brings_pair(obj, options):
                variants.append((name, options))
                with_pairs.append(name)
    if len(set(with_pairs)) > 1:
        variants.append((sorted(set(with_pairs)), {}))
    return variants


def check_networks(pattern: str = "*") -> list[CheckResult]:
    """The linear layer's row (if ``pattern`` matches "linear"), then one row per network
    variant."""
    rows = [check_linear()] if fnmatch.fnmatchcase("linear", pattern) else []
    return rows + [check_network(act, options) for act, options in network_variants(pattern)]

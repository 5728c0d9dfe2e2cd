"""The proof of the layers after the article: dropout, layer and batch normalization and the
residual connection, each hand-derived backward against torch's own layers in float64 —
``nn.Dropout`` with the very mask it drew, ``nn.LayerNorm``, ``nn.BatchNorm1d`` in training
(its running statistics too) and in evaluation — edge cases included: a single row, a batch of
two, a constant (zero-variance) feature, dropout 0 and 0.99. Then whole networks: an MLP with
each option in the hand-derived whole-network Function, against the same MLP made of torch's
layers (``nn.Linear``, ``nn.LayerNorm``, ``nn.BatchNorm1d``, the activation's torch reference,
the dropout mask, the skip as a plain addition), for every built-in activation with its pair.

>>> [row.verdict for row in check_layers("layer_norm")]
['pass']
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.maths.layers import DropoutFunction, NormFunction
from nnkit.models import MLP
from nnkit.proof.networks import network_variants
from nnkit.proof.rows import TOLERANCE, CheckResult, errors

F64 = torch.float64
Outputs = list[Tensor]  # a forward's value, then every gradient (and any state it moved)


ZERO = 1e-10  # below it, a reference's largest magnitude is rounding of an exact zero


def _worst(pairs: Sequence[tuple[Outputs, Outputs]]) -> tuple[float, float]:
    """The largest (abs, rel) error over every output of every case. A gradient that is zero
    in exact arithmetic — the bias of a layer before batch normalization, whose mean
    subtraction removes it — is rounding on both sides: it counts by its absolute error."""
    worst_abs = worst_rel = 0.0
    for ours, theirs in pairs:
        for actual, expected in zip(ours, theirs, strict=True):
            err_abs, err_rel = errors(actual, expected)
            if expected.numel() and float(expected.abs().max()) < ZERO:
                err_rel = err_abs
            worst_abs, worst_rel = max(worst_abs, err_abs), max(worst_rel, err_rel)
    return worst_abs, worst_rel


def _row(kind: str, name: str, reference: str, check: Callable[[], list]) -> CheckResult:
    """One row from the cases ``check`` returns; an exception is the row's failure. A layer is
    smooth (dropout: linear, given its mask), so it also passes ``torch.autograd.gradcheck``;
    a network composes them with its activations."""
    contract = "smooth" if kind == "layer" else "composed"
    try:
        err_abs, err_rel = _worst(check())
        problem = "" if err_rel <= TOLERANCE else f"relative error {err_rel:.1e} > {TOLERANCE:.0e}"
        if not problem and kind == "layer" and not _finite_differences(name):
            problem = "torch.autograd.gradcheck failed"
    except Exception as error:
        err_abs, err_rel, problem = float("nan"), float("nan"), f"{type(error).__name__}: {error}"
    verdict = "FAIL" if problem else "pass"
    return CheckResult(kind, name, contract, reference, err_abs, err_rel, verdict, problem)


def _finite_differences(name: str) -> bool:
    """``torch.autograd.gradcheck`` of the layer's Function on a small batch: its backward
    against finite differences of its own forward."""
    generator = torch.Generator().manual_seed(7)
    z, (weight, bias) = torch.randn(5, 4, generator=generator, dtype=F64), _affine(4, 7)
    if name.startswith("dropout"):
        mask = (torch.rand(5, 4, generator=generator, dtype=F64) < 0.5).to(F64) * 2
        return torch.autograd.gradcheck(
            lambda a: DropoutFunction.apply(a, mask), (z.requires_grad_(),), raise_exception=False
        )
    kind = "layer" if name == "layer_norm" else "batch"
    running = (torch.zeros(4, dtype=F64), torch.ones(4, dtype=F64)) if "eval" in name else None
    leaves = tuple(t.clone().requires_grad_() for t in (z, weight, bias))
    return torch.autograd.gradcheck(
        lambda *ts: NormFunction.apply(*ts, kind, 1e-5, running), leaves, raise_exception=False
    )


def _grads(fn: Callable[..., Tensor], leaves: Sequence[Tensor], seed: int) -> Outputs:
    """``fn(*leaves)`` and its gradient in every leaf against a seeded random upstream."""
    leaves = [t.detach().clone().requires_grad_(True) for t in leaves]
    out = fn(*leaves)
    generator = torch.Generator().manual_seed(seed)
    upstream = torch.randn(out.shape, generator=generator, dtype=out.dtype)
    return [out.detach(), *torch.autograd.grad(out, leaves, upstream)]


def _features(rows: int, width: int, seed: int, constant: bool = False) -> Tensor:
    x = 3 * torch.randn(rows, width, generator=torch.Generator().manual_seed(seed), dtype=F64)
    if constant:
        x[:, 0] = 2.5  # a feature with zero variance over the batch
        x[0, :] = -1.0  # a row with zero variance over its units
    return x


# --- one layer at a time --------------------------------------------------------------------
def _dropout_cases(rate: float) -> list:
    cases = []
    for seed, shape in enumerate(((1, 5), (33, 7))):
        x = _features(*shape, seed)
        torch.manual_seed(100 + seed)
        layer = nn.Dropout(rate).train()
        theirs = _grads(layer, [x], seed)
        torch.manual_seed(100 + seed)
        mask = layer(torch.ones_like(x))  # the mask it drew: 0 or 1 / (1 - rate)
        ours = _grads(lambda a, m=mask: DropoutFunction.apply(a, m), [x], seed)
        cases.append((ours, theirs))
    return cases


def _affine(width: int, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    weight = 1 + 0.5 * torch.randn(width, generator=generator, dtype=F64)
    return weight, 0.5 * torch.randn(width, generator=generator, dtype=F64)


def _layer_norm_cases() -> list:
    cases = []
    for seed, shape in enumerate(((1, 5), (33, 7), (4, 1))):
        x, (weight, bias) = _features(*shape, seed, constant=True), _affine(shape[1], seed)
        torch_layer = nn.LayerNorm(shape[1], dtype=F64)

        def theirs(z: Tensor, w: Tensor, b: Tensor, layer: nn.LayerNorm = torch_layer) -> Tensor:
            return nn.functional.layer_norm(z, layer.normalized_shape, w, b, layer.eps)

        ours = lambda z, w, b: NormFunction.apply(z, w, b, "layer", 1e-5, None)  # noqa: E731
        leaves = [x, weight, bias]
        cases.append((_grads(ours, leaves, seed), _grads(theirs, leaves, seed)))
    return cases


def _batch_norm_cases(training: bool) -> list:
    cases = []
    for seed, rows in enumerate((2, 33)):
        x, (weight, bias) = _features(rows, 6, seed, constant=True), _affine(6, seed)
        stats = (0.3 * torch.randn(6, dtype=F64), 0.5 + torch.rand(6, dtype=F64))
        results = []
        for ours in (True, False):
            running = [s.clone() for s in stats]
            if ours:
                fn = _our_batch_norm(running, training)
            else:
                fn = _torch_batch_norm(running, training)
            results.append([*_grads(fn, [x, weight, bias], seed), *running])
        cases.append(tuple(results))
    return cases


def _our_batch_norm(running: list[Tensor], training: bool) -> Callable[..., Tensor]:
    from nnkit.maths.extras import Extras

    def fn(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        if not training:
            return NormFunction.apply(z, w, b, "batch", 1e-5, tuple(running))
        module = nn.BatchNorm1d(z.shape[1], dtype=F64)
        module.running_mean, module.running_var = running
        Extras.move_running(module, z)
        return NormFunction.apply(z, w, b, "batch", 1e-5, None)

    return fn


def _torch_batch_norm(running: list[Tensor], training: bool) -> Callable[..., Tensor]:
    def fn(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
        mean, var = running
        return nn.functional.batch_norm(z, mean, var, w, b, training, 0.1, 1e-5)

    return fn


# --- whole networks ---------------------------------------------------------------------------
NETWORKS: dict[str, dict[str, Any]] = {
    "norm=layer": {"norm": "layer"},
    "norm=batch": {"norm": "batch"},
    "dropout=0.5": {"dropout": 0.5},
    "residual": {"residual": True},
    "norm=[batch,layer,none],dropout=0.3,residual": {
        "norm": ["batch", "layer", "none"], "dropout": 0.3, "residual": True
    },
}  # fmt: skip


def _network_cases(options: dict[str, Any]) -> list:
    cases = []
    for seed, (name, given) in enumerate(network_variants()):  # every activation with its pair
        if not isinstance(name, str):
            continue  # (the mix of all of them: a network per activation is the row's case)
        torch.manual_seed(seed)
        net = MLP(3, 2, hidden=[5, 5, 5], activation=name, activation_args=given, **options)
        x = _features((9, 33, 4)[seed % 3], 3, seed)
        cases.append(_network_case(net.double(), x, seed))
    return cases


def _network_case(net: MLP, x: Tensor, seed: int) -> tuple[Outputs, Outputs]:
    """The hand-derived network and torch's layers on ``x``, with the same dropout masks."""
    extras = net.extras
    draws = extras.dropout_draws.clone() if extras is not None and any(extras.rates) else None
    names, params = zip(*net.named_parameters(), strict=True)

    def ours(xs: Tensor, *ps: Tensor) -> Tensor:
        return torch.func.functional_call(net, dict(zip(names, ps, strict=True)), (xs,))

    mine = _grads(ours, [x, *params], seed)
    if draws is not None:
        extras.dropout_draws.copy_(draws)  # type: ignore[union-attr]  # the same masks again
    masks = extras.masks(x) if extras is not None else []
    theirs = _grads(lambda xs, *ps: _torch_network(net, xs, ps, masks), [x, *params], seed)
    return mine, theirs


def _torch_network(net: MLP, x: Tensor, params: Sequence[Tensor], masks: list) -> Tensor:
    """``net``'s forward pass as torch's layers compute it, with ``params`` (in
    ``net.parameters()``' order) and the dropout ``masks`` it drew."""
    named = dict(zip((name for name, _ in net.named_parameters()), params, strict=True))
    extras, modules = net.extras, list(net.layers)
    value = x
    for layer, activation in enumerate(modules[1::2]):
        index = 2 * layer
        weight, bias = named[f"layers.{index}.weight"], named[f"layers.{index}.bias"]
        z = nn.functional.linear(value, weight, bias)
        kind = extras.kinds[layer] if extras is not None else "none"
        if kind != "none":
            w, b = named[f"extras.norms.{layer}.weight"], named[f"extras.norms.{layer}.bias"]
            if kind == "layer":
                z = nn.functional.layer_norm(z, (z.shape[-1],), w, b)
            else:
                z = nn.functional.batch_norm(z, None, None, w, b, training=True)
        h = getattr(activation, "reference")(z)  # noqa: B009  (the module's torch twin)
        if masks and masks[layer] is not None:
            h = h * masks[layer]
        value = value + h if extras is not None and extras.residual[layer] else h
    last = len(modules) - 1
    return nn.functional.linear(value, named[f"layers.{last}.weight"], named[f"layers.{last}.bias"])


def check_layers(pattern: str = "*") -> list[CheckResult]:
    """The rows whose name matches ``pattern``: dropout, layer and batch normalization, then
    the whole networks with them."""
    dropouts = [
        ("layer", f"dropout[rate={r}]", "nn.Dropout", functools.partial(_dropout_cases, r))
        for r in (0.0, 0.5, 0.99)
    ]
    networks = [
        ("network", f"mlp[{name}]", "torch layers", functools.partial(_network_cases, o))
        for name, o in NETWORKS.items()
    ]
    rows: list[tuple[str, str, str, Callable[[], list]]] = [
        *dropouts,
        ("layer", "layer_norm", "nn.LayerNorm", _layer_norm_cases),
        (
            "layer",
            "batch_norm[train]",
            "nn.BatchNorm1d",
            functools.partial(_batch_norm_cases, True),
        ),
        (
            "layer",
            "batch_norm[eval]",
            "nn.BatchNorm1d",
            functools.partial(_batch_norm_cases, False),
        ),
        *networks,
    ]
    return [_row(*row) for row in rows if fnmatch.fnmatchcase(row[1], pattern)]

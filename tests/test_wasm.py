"""The native program compiled to WebAssembly computes what the native library computes: the
same weights and data through both, for every activation, loss, optimizer, regularization,
replicas setting and hidden-layer layout the program takes, equal to 1e-12 in float64 after a
training call and for the maps (the WebAssembly module run by node, all cases in one process)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch

import nnkit
from nnkit.maths.functions import SIGMOID
from nnkit.maths.loss_functions import bce_pair, cross_entropy_pair, mse_pair, replicated
from nnkit.models import MLP
from nnkit.native.plan import plan_program
from nnkit.native.wasm import run_calls, spec_values, wasm_unavailable_reason
from nnkit.replicas import ReplicaMLP

F64 = torch.float64
LOSSES = {"mse": mse_pair, "mse after a sigmoid": mse_pair, "bce": bce_pair,
          "cross_entropy": cross_entropy_pair}  # fmt: skip
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
    "sgd momentum weight_decay": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9,
                                                           weight_decay=0.01),
    "adam weight_decay": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
}  # fmt: skip
LAYOUTS = {
    "norm=layer": {"norm": "layer"},
    "norm=batch,dropout": {"norm": "batch", "dropout": 0.3},
    "residual,dropout": {"residual": True, "dropout": [0.5, 0.0]},
    "norm=[batch,layer],residual": {"norm": ["batch", "layer"], "residual": True},
}


def _cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for name in nnkit.ACTIVATIONS.names():
        for options in getattr(nnkit.ACTIVATIONS.get(name), "variants", ({},)):
            if MLP(3, 2, hidden=[5], activation=name, activation_args=dict(options)).pairs:
                label = name + "".join(f"[{k}={v}]" for k, v in options.items())
                cases[f"activation {label}"] = {"activation": (name, dict(options))}
    for loss in LOSSES:
        for optimizer in OPTIMIZERS:
            for replicas in (1, 3):
                cases[f"{loss}, {optimizer}, {replicas} replicas"] = {
                    "loss": loss, "optimizer": optimizer, "replicas": replicas
                }  # fmt: skip
    for kind in ("l1", "l2"):
        for replicas in (1, 3):
            cases[f"penalty {kind}, {replicas} replicas"] = {
                "penalty": (kind, 0.01), "optimizer": "adam weight_decay", "replicas": replicas
            }  # fmt: skip
    for name, layout in LAYOUTS.items():
        # Adam divides a gradient by its own size: the bias before a batch normalization has
        # a gradient of 0 in exact arithmetic, rounding in both programs, which Adam turns
        # into steps of lr·rounding/eps — batch normalization is compared under SGD
        adam = ("adamw",) if "batch" not in str(layout.get("norm")) else ()
        for optimizer in ("sgd momentum weight_decay", *adam):
            for replicas in (1, 3):
                cases[f"{name}, {optimizer}, {replicas} replicas"] = {
                    "layout": layout, "optimizer": optimizer, "replicas": replicas
                }  # fmt: skip
    cases["a schedule's rates"] = {"rates": True, "optimizer": "adamw"}
    return cases


CASES = _cases()


def _flat(tensors) -> list[list[float]]:
    return [t.detach().reshape(-1).tolist() for t in tensors]


def _build(case: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A case's two calls (a training call, the maps after it) and the native library's
    answers to them."""
    name, options = case.get("activation", ("tanh", {}))
    loss, replicas = case.get("loss", "mse"), case.get("replicas", 1)
    outputs = 4 if loss == "cross_entropy" else 2
    layout = case.get("layout", {})

    def make() -> MLP:
        return MLP(3, outputs, hidden=[5, 5], activation=name, activation_args=options,
                   **layout).double()  # fmt: skip

    torch.manual_seed(0)
    net = make() if replicas == 1 else ReplicaMLP.build(make, seeds=range(replicas))
    optimizer = OPTIMIZERS[case.get("optimizer", "sgd momentum weight_decay")](
        list(net.parameters())
    )
    for param in net.parameters():  # torch's first step makes the optimizer's state
        param.grad = torch.zeros_like(param)
    optimizer.step()
    pair = replicated(LOSSES[loss], "mean", replicas) if replicas > 1 else LOSSES[loss]("mean")
    squash = SIGMOID if loss == "mse after a sigmoid" else None
    extras = net.extras
    program = plan_program(net.pairs, pair, squash, [3, 5, 5, outputs], replicas, F64,
                           case.get("penalty", ("none", 0.0)),
                           extras.layout() if extras else None)  # fmt: skip
    assert not isinstance(program, str), program
    steps = program.bind(net.native_params(), optimizer)
    g = torch.Generator().manual_seed(3)
    lead = (replicas,) if replicas > 1 else ()
    x = torch.randn(*lead, 15, 3, generator=g, dtype=F64)
    if loss == "cross_entropy":
        targets = torch.randint(0, 4, (*lead, 15), generator=g)
    else:
        targets = torch.rand(*lead, 15, 2, generator=g, dtype=F64).round()
    offsets = torch.tensor([0, 5, 10, 15])
    masks = extras.native_masks(x, offsets) if extras else None
    rates = torch.tensor([0.05, 0.02, 0.01], dtype=F64) if case.get("rates") else None
    before = {
        "params": _flat(steps.params), "grads": _flat(steps.grads),
        "first": _flat(steps.first) or None, "second": _flat(steps.second) or None,
    }  # fmt: skip
    losses, out, grads = steps.train(x, targets, offsets, rates, masks)
    labels = targets.dtype == torch.int64
    train = {
        "kind": "train", "spec": spec_values(steps.spec), **before, "x": x.reshape(-1).tolist(),
        "dense": None if labels else targets.reshape(-1).tolist(),
        "labels": targets.reshape(-1).tolist() if labels else None,
        "offsets": offsets.tolist(), "outputs": out.numel(),
        "lrs": rates.tolist() if rates is not None else None,
        "masks": masks.reshape(-1).tolist() if masks is not None else None,
    }  # fmt: skip
    points = torch.randn(7, 3, generator=g, dtype=F64)
    values = program.maps(steps.params, points, replica=replicas - 1)
    maps = {"kind": "maps", "spec": spec_values(program.spec()), "params": _flat(steps.params),
            "x": points.reshape(-1).tolist(), "points": 7, "values": values.numel(),
            "replica": replicas - 1}  # fmt: skip
    moments = {k: _flat(getattr(steps, k)) for k in ("first", "second") if getattr(steps, k)}
    answers = {"losses": losses.tolist(), "outputs": out.reshape(-1).tolist(),
               "params": _flat(steps.params), "grads": _flat(grads), **moments}  # fmt: skip
    return [train, maps], [answers, {"values": values.reshape(-1).tolist()}]


@functools.cache
def _both() -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Every case's answers: the native library's and the WebAssembly program's."""
    built = {name: _build(case) for name, case in CASES.items()}
    calls = [call for found_calls, _ in built.values() for call in found_calls]
    found = iter(run_calls(calls))
    return {name: (answers, [next(found), next(found)]) for name, (_, answers) in built.items()}


def _worst(native: Any, wasm: Any) -> float:
    """The largest difference over the largest magnitude, every number of two answers."""
    a, b = torch.tensor(_numbers(wasm), dtype=F64), torch.tensor(_numbers(native), dtype=F64)
    assert a.shape == b.shape
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for key in sorted(value) for n in _numbers(value[key])]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [float(value)]


@pytest.mark.skipif(wasm_unavailable_reason() is not None, reason=f"{wasm_unavailable_reason()}")
@pytest.mark.parametrize("name", list(CASES))
def test_the_webassembly_program_computes_what_the_native_library_computes(name):
    native, wasm = _both()[name]
    for kind, ours, theirs in zip(("training call", "maps"), native, wasm, strict=True):
        assert set(ours) <= set(theirs), (kind, sorted(theirs))
        theirs = {key: theirs[key] for key in ours}
        assert _worst(ours, theirs) <= 1e-12, (kind, name)

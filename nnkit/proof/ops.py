"""The proof of each op: every hand-derived backward against torch's autograd, in float64.

Each registered activation and loss declares a gradient ``contract`` and a torch ``reference``.
The same inputs — seeded random values and the edge values 0, ±1e-8, ±1, ±30, ±1e3 — go through
both, and forward values and gradients must agree to a relative error of 1e-12 (the largest
absolute difference over the largest reference magnitude). Smooth ops are also passed through
``torch.autograd.gradcheck`` (finite differences) and, when they promise it, ``gradgradcheck``.
The regularization penalties (L1, L2) are proved the same way; dropout, the normalizations
and the networks that hold them in ``nnkit.proof.layers``; the linear layer and the
whole-network Function in ``nnkit.proof.networks``.

>>> row = check_activation("sigmoid")[0]
>>> row.verdict, row.contract
('pass', 'smooth')
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from nnkit.activations import ACTIVATIONS, build_activation
from nnkit.losses import LOSSES, Loss, build_loss
from nnkit.maths import regularization
from nnkit.maths.contract import Contract
from nnkit.proof.layers import check_layers
from nnkit.proof.networks import check_networks
from nnkit.proof.rows import EDGE_VALUES, TOLERANCE, CheckResult, errors

__all__ = ["CheckResult", "check_activation", "check_all", "check_loss", "format_table"]


def _inputs(contract: Contract, generator: torch.Generator) -> list[Tensor]:
    """Random values of several shapes, and the edge values (kinks left out)."""
    edges = torch.tensor([v for v in EDGE_VALUES if v not in contract.kinks], dtype=torch.float64)
    shapes = [(7,), (), (3, 4, 5)]
    random = [3 * torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
    return [*random, edges]


def _grad(fn: Callable[[Tensor], Tensor], x: Tensor, seed: int) -> tuple[Tensor, Tensor]:
    """``fn(x)`` and the gradient in ``x`` of ``fn(x)`` against a seeded random upstream."""
    x = x.detach().requires_grad_(True)
    y = fn(x)
    upstream = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    (grad,) = torch.autograd.grad(y, x, upstream)
    return y.detach(), grad


def compare(
    fn: Callable[[Tensor], Tensor],
    reference: Callable[[Tensor], Tensor],
    inputs: Sequence[Tensor],
    generator: torch.Generator,
) -> tuple[float, float]:
    """Worst (abs, rel) error of ``fn`` against ``reference``, values and gradients."""
    worst_abs, worst_rel = 0.0, 0.0
    for x in inputs:
        seed = int(torch.randint(2**31, (), generator=generator))
        for actual, expected in zip(_grad(fn, x, seed), _grad(reference, x, seed)):
            err_abs, err_rel = errors(actual, expected)
            worst_abs, worst_rel = max(worst_abs, err_abs), max(worst_rel, err_rel)
    return worst_abs, worst_rel


def _finite_difference_checks(fn: Callable[[Tensor], Tensor], contract: Contract, x: Tensor) -> str:
    """``gradcheck`` (and ``gradgradcheck``) of a smooth op at ``x``; what failed, or ''."""
    if contract.kind != "smooth":
        return ""
    x = x.detach().clone().requires_grad_(True)
    if not torch.autograd.gradcheck(fn, (x,), raise_exception=False):
        return "torch.autograd.gradcheck failed"
    if contract.double_backward and not torch.autograd.gradgradcheck(
        fn, (x,), raise_exception=False
    ):
        return "torch.autograd.gradgradcheck failed"
    return ""


def _kink_check(fn: Callable, reference: Callable, contract: Contract) -> tuple[float, float]:
    if not contract.kinks:
        return 0.0, 0.0
    kinks = torch.tensor(contract.kinks, dtype=torch.float64)
    return compare(fn, reference, [kinks], torch.Generator().manual_seed(2))


def _verdict(
    kind: str, name: str, contract: Contract, reference: Callable, fn: Callable, inputs: list
) -> CheckResult:
    """Run every check the contract asks for and turn the worst error into a row."""
    ref_name = _ref_name(reference)
    generator = torch.Generator().manual_seed(0)
    try:
        err_abs, err_rel = compare(fn, reference, inputs, generator)
        kink_abs, kink_rel = _kink_check(fn, reference, contract)
        finite_difference_problem = _finite_difference_checks(fn, contract, inputs[0])
    except Exception as error:
        return CheckResult(
            kind,
            name,
            contract.kind,
            ref_name,
            float("nan"),
            float("nan"),
            "FAIL",
            f"{type(error).__name__}: {error}",
        )
    err_abs, err_rel = max(err_abs, kink_abs), max(err_rel, kink_rel)
    problems = (
        [f"relative error {err_rel:.1e} > {TOLERANCE:.0e}"] if not err_rel <= TOLERANCE else []
    )
    problems += [finite_difference_problem] if finite_difference_problem else []
    problem = "; ".join(problems)
    verdict = "FAIL" if problem else "pass"
    return CheckResult(kind, name, contract.kind, ref_name, err_abs, err_rel, verdict, problem)


def _ref_name(reference: Callable) -> str:
    owner = getattr(reference, "__self__", None)
    base = type(owner).__name__ + "." if owner is not None else ""
    return base + getattr(reference, "__name__", type(reference).__name__)


def _label(name: str, options: dict[str, Any]) -> str:
    return name + (f"[{','.join(f'{k}={v}' for k, v in options.items())}]" if options else "")


def _declared(module: Any, obj: Any) -> tuple[Contract | None, Callable | None]:
    contract = getattr(module, "contract", None) or getattr(obj, "contract", None)
    reference = getattr(module, "reference", None) or getattr(obj, "reference", None)
    return contract, reference


def _unproved(kind: str, name: str) -> CheckResult:
    return CheckResult(
        kind,
        name,
        "-",
        "-",
        float("nan"),
        float("nan"),
        "unproved",
        "declares no contract and torch reference",
    )


def check_activation(
    name_or_obj: Any, name: str | None = None, variants: Sequence[dict[str, Any]] | None = None
) -> list[CheckResult]:
    """Check one activation against its reference: every variant it declares, or the options
    in ``variants``."""
    obj = ACTIVATIONS.get(name_or_obj)
    name = name or (name_or_obj if isinstance(name_or_obj, str) else obj.__name__)
    rows = []
    for options in variants if variants is not None else getattr(obj, "variants", ({},)):
        module = build_activation(obj, **options).double()
        contract, reference = _declared(module, obj)
        label = _label(name, options)
        if contract is None or reference is None:
            rows.append(_unproved("activation", label))
            continue
        inputs = _inputs(contract, torch.Generator().manual_seed(0))
        rows.append(_verdict("activation", label, contract, reference, module, inputs))
    return rows


def check_loss(
    name_or_obj: Any, name: str | None = None, variants: Sequence[dict[str, Any]] | None = None
) -> list[CheckResult]:
    """Check one loss against its reference (gradient in the output): for each reduction, or
    the options in ``variants``."""
    obj = LOSSES.get(name_or_obj)
    name = name or (name_or_obj if isinstance(name_or_obj, str) else obj.__name__)
    rows = []
    default = ({"reduction": "mean"}, {"reduction": "sum"})
    for options in variants if variants is not None else getattr(obj, "variants", default):
        module = build_loss(obj, **options)
        contract, reference = _declared(module, obj)
        label = _label(name, options)
        if contract is None or reference is None:
            rows.append(_unproved("loss", label))
            continue
        generator = torch.Generator().manual_seed(0)
        random = 3 * torch.randn(5, len(EDGE_VALUES), generator=generator, dtype=torch.float64)
        output = torch.cat([random, torch.tensor([EDGE_VALUES], dtype=torch.float64)])  # (6, 9)
        sample_target = getattr(module, "sample_target", Loss.sample_target)
        target = sample_target(output, generator)
        rows.append(
            _verdict(
                "loss",
                label,
                contract,
                _bind_target(reference, target),
                _bind_target(module, target),
                [output],
            )
        )
    return rows


class _bind_target:
    """A loss with its target fixed, so it can be checked like an activation."""

    def __init__(self, loss: Callable[[Tensor, Tensor], Tensor], target: Tensor) -> None:
        self.loss, self.target = loss, target
        self.__name__ = _ref_name(loss)

    def __call__(self, output: Tensor) -> Tensor:
        return self.loss(output, self.target)


PENALTY_CONTRACTS = {"l1": Contract("piecewise", kinks=(0.0,)), "l2": Contract("smooth")}


def check_penalties(pattern: str = "*") -> list[CheckResult]:
    """The regularization penalties (``regularization.kind``) whose name matches ``pattern``,
    hand-derived backward against torch's autograd of the same sum."""
    rows = []
    for kind, contract in PENALTY_CONTRACTS.items():
        if not fnmatch.fnmatch(kind, pattern):
            continue
        fn, reference = (
            _penalty_of(kind, regularization.penalty),
            _penalty_of(kind, regularization.torch_penalty),
        )
        inputs = _inputs(contract, torch.Generator().manual_seed(0))
        rows.append(_verdict("penalty", kind, contract, reference, fn, inputs))
    return rows


def _penalty_of(kind: str, fn: Callable[..., Tensor]) -> Callable[[Tensor], Tensor]:
    bound = functools.partial(fn, kind=kind)
    bound.__name__ = fn.__name__  # type: ignore[attr-defined]  # the row's reference column
    return bound


def check_all(pattern: str = "*") -> list[CheckResult]:
    """Every registered activation and loss whose name matches ``pattern``, the penalties, the
    layers after the article, the linear layer, and the whole-network Function with every
    activation that brings its pair."""
    rows = []
    for name in ACTIVATIONS.names(pattern):
        rows += check_activation(name)
    for name in LOSSES.names(pattern):
        rows += check_loss(name)
    return rows + check_penalties(pattern) + check_layers(pattern) + check_networks(pattern)


REFERENCE_WIDTH = 18
NAME_WIDTH = 30  # a longer name (or reference) is shortened in its row, given in full below


def format_table(rows: Sequence[CheckResult]) -> str:
    """The rows as a plain-text table; a name or reference longer than ``NAME_WIDTH`` is
    shortened to a mark (``mlp[elu+gelu…] [1]``) and spelt out in a legend under the table,
    so that rows fit in 100 columns.

    >>> row = CheckResult("network", "mlp[" + "+".join(["tanh"] * 9) + "]", "composed",
    ...                   "torch layers", 0.0, 0.0, "pass", "")
    >>> print(format_table([row]))  # doctest: +NORMALIZE_WHITESPACE
    kind     name                            contract  reference     abs err  rel err  verdict
    network  mlp[tanh+tanh+tanh+tanh+t… [1]  composed  torch layers  0.0e+00  0.0e+00  pass
    [1] mlp[tanh+tanh+tanh+tanh+tanh+tanh+tanh+tanh+tanh]
    """
    header = ("kind", "name", "contract", "reference", "abs err", "rel err", "verdict")  # worst
    legend: list[str] = []
    lines = [header] + [
        (
            r.kind,
            _short(r.name, legend),
            r.contract,
            _short(r.reference.removesuffix(".reference"), legend, REFERENCE_WIDTH),
            f"{r.max_abs:.1e}",
            f"{r.max_rel:.1e}",
            r.verdict + (f" ({r.detail})" if r.detail else ""),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1]
        for line in lines
    ]
    return "\n".join(table + [f"[{i}] {name}" for i, name in enumerate(legend, 1)])


def _short(name: str, legend: list[str], width: int = NAME_WIDTH) -> str:
    """``name``, or its first characters and its mark in ``legend`` (added there)."""
    if len(name) <= width:
        return name
    legend.append(name)
    mark = f"… [{len(legend)}]"
    return name[: width - len(mark)] + mark

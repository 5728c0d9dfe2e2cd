"""The proof itself: every registered op passes, and a wrong backward is caught."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

import nnkit
from nnkit import gradcheck
from nnkit.maths.contract import Contract
from nnkit.proof import ops
from nnkit.proof import rows as proof_rows


@pytest.mark.parametrize("name", nnkit.ACTIVATIONS.names())
def test_every_activation_matches_its_torch_reference(name):
    rows = ops.check_activation(name)
    assert rows and all(row.verdict == "pass" for row in rows), ops.format_table(rows)
    assert all(row.max_rel <= 1e-12 for row in rows)


@pytest.mark.parametrize("name", nnkit.LOSSES.names())
def test_every_loss_matches_its_torch_reference(name):
    rows = ops.check_loss(name)
    assert {row.name for row in rows} == {f"{name}[reduction=mean]", f"{name}[reduction=sum]"}
    assert all(row.verdict == "pass" for row in rows), ops.format_table(rows)


WRONG_SQUARE = Path(__file__).parent / "plugins" / "wrong_square.py"  # x², backward 3x


def test_a_wrong_backward_fails_with_a_clear_row(capsys):
    runpy.run_path(str(WRONG_SQUARE))  # registers "wrong_square"
    rows = ops.check_activation("wrong_square")
    assert [row.verdict for row in rows] == ["FAIL"]
    assert "relative error" in rows[0].detail
    assert gradcheck.main(["wrong_*"]) == 1
    out = capsys.readouterr().out
    assert "wrong_square" in out and "FAIL (relative error" in out and "0 passed, 1 failed" in out


def test_a_wrong_kink_convention_is_caught():
    class ReLUOneAtZero(torch.autograd.Function):
        contract = Contract("piecewise", kinks=(0.0,))

        @staticmethod
        def forward(x):
            return x.clamp_min(0)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, grad):
            return grad * (ctx.saved_tensors[0] >= 0)

        reference = staticmethod(torch.relu)

    rows = ops.check_activation(ReLUOneAtZero, name="relu_one_at_zero")
    assert rows[0].verdict == "FAIL"


def test_an_op_without_contract_is_unproved_and_does_not_count_as_passing(capsys):
    nnkit.register_activation("bare", lambda x: x * 2)
    (row,) = ops.check_activation("bare")
    assert row.verdict == "unproved" and not row.passed
    assert gradcheck.main(["bar*"]) == 1
    out = capsys.readouterr().out
    assert "0 passed, 0 failed, 1 unproved" in out and "--allow-unproved" in out
    assert gradcheck.main(["bar*", "--allow-unproved"]) == 0


def test_cli_prints_every_registered_op_and_exits_zero(capsys):
    assert gradcheck.main([]) == 0
    out = capsys.readouterr().out
    for name in [
        "identity",
        "relu",
        "sigmoid",
        "step[ste=clipped]",
        "mse[reduction=sum]",
        "bce[reduction=mean]",
        "cross_entropy[reduction=mean]",
        "linear",
        "mlp[relu]",
        "mlp[step[ste=clipped]]",
        "mlp[" + "+".join(nnkit.ACTIVATIONS.names()) + "]",
    ]:
        assert f" {name} " in out or f"] {name}\n" in out, name  # in its row, or the legend
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "FAIL" not in out and " 0 failed, 0 unproved" in out


def test_errors_measures_relative_to_largest_reference_value():
    assert proof_rows.errors(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0])) == (2.0, 0.5)
    assert proof_rows.errors(torch.zeros(2), torch.zeros(3)) == (float("inf"), float("inf"))


def test_a_nan_where_the_reference_is_finite_counts_as_infinite_error():
    actual, expected = torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0])
    assert proof_rows.errors(actual, expected)[0] == float("inf")

"""``trainer.compile``: the compiled hand-derived step equals the eager one, and a step torch
cannot compile runs eagerly with one warning."""

from __future__ import annotations

import pytest
import torch

from nnkit.maths.functions import RELU
from nnkit.maths.loss_functions import cross_entropy_pair
from nnkit.maths.network import network_loss_grads
from nnkit.training.compiled import CompiledStep, should_compile


def test_the_compiled_step_equals_the_eager_one():
    generator = torch.Generator().manual_seed(0)
    shapes = [(6, 7), (6,), (10, 6), (10,)]  # one hidden layer: compiling is the test's cost
    params = [torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
    x = torch.randn(12, 7, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 10, (12,), generator=generator)
    args = (x, target, (RELU,), params, cross_entropy_pair("mean"), None)
    step = CompiledStep(network_loss_grads)
    compiled = step(*args)
    assert step.compiled
    eager = network_loss_grads(*args)
    for got, expected in zip([compiled[0], compiled[1], *compiled[2]],
                             [eager[0], eager[1], *eager[2]], strict=True):  # fmt: skip
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_a_step_torch_cannot_compile_runs_eagerly_with_a_warning():
    def with_python(x: torch.Tensor) -> torch.Tensor:
        return x * sum(x.tolist())  # a Python loop over the values: no graph

    step = CompiledStep(with_python)
    x = torch.ones(3)
    with pytest.warns(UserWarning, match="trainer.compile: the step runs eagerly"):
        assert torch.equal(step(x), with_python(x))
    assert not step.compiled
    assert torch.equal(step(-x), with_python(-x))


@pytest.mark.parametrize(
    "setting, device, steps, expected",
    [
        ("auto", "cpu", 10_000, False),
        ("auto", "cpu", 1_000_000, True),
        ("auto", "cuda", 50_000, True),
        (True, "cpu", 1, True),
        (False, "cuda", 10**9, False),
    ],
)
def test_auto_compiles_long_runs_only(setting, device, steps, expected):
    assert should_compile(setting, torch.device(device), steps) is expected

"""The hand-derived Functions: values, conventions, dtypes, repeated use and what they save."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

from nnkit.maths import functions as F
from nnkit.maths import loss_functions as LF
from nnkit.maths.linear import linear

SEED = torch.Generator().manual_seed(0)


def rand(*shape, dtype=torch.float64, scale=3.0):
    return (scale * torch.randn(*shape, generator=SEED, dtype=dtype)).requires_grad_(True)


def grad_of(fn, *inputs):
    out = fn(*inputs)
    upstream = torch.ones_like(out)
    return out, torch.autograd.grad(out, inputs, upstream)


def test_step_forward_jumps_at_zero_inclusive():
    x = torch.tensor([-1e-8, -0.0, 0.0, 1e-8, 5.0])
    assert F.step(x).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("ste", "expected"),
    [("identity", [1.0, 1.0, 1.0, 1.0]), ("clipped", [0.0, 1.0, 1.0, 0.0]), ("none", [0.0] * 4)],
)
def test_step_straight_through_estimators(ste, expected):
    x = torch.tensor([-2.0, -1.0, 1.0, 2.0], requires_grad=True)
    F.step(x, ste).sum().backward()
    assert x.grad.tolist() == expected


def test_step_rejects_unknown_estimator():
    with pytest.raises(
        ValueError, match=r"unknown ste 'clip' \(choose from: identity, clipped, none\)"
    ):
        F.step(torch.zeros(1), "clip")


def test_relu_derivative_at_zero_is_zero_like_torch():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    F.relu(x).sum().backward()
    torch.relu(y).sum().backward()
    assert x.grad.tolist() == y.grad.tolist() == [0.0, 0.0, 0.0]


def test_sigmoid_is_finite_and_exact_at_extremes():
    x = torch.tensor([-1e4, -745.0, -30.0, 0.0, 30.0, 1e4], dtype=torch.float64)
    y = F.sigmoid(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, torch.sigmoid(x), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["sigmoid", "relu", "identity", "step"])
def test_activations_keep_dtype_and_shape(name, dtype):
    x = rand(2, 3, 4, dtype=dtype)
    y = getattr(F, name)(x)
    assert y.dtype == dtype and y.shape == x.shape


def test_float32_gradients_match_torch():
    x = rand(64, dtype=torch.float32)
    (_, (ours,)), (_, (theirs,)) = grad_of(F.sigmoid, x), grad_of(torch.sigmoid, x)
    torch.testing.assert_close(ours, theirs)


def test_linear_gradients_for_batched_3d_input_and_no_bias():
    x, w, b = rand(2, 5, 3), rand(4, 3), rand(4)
    for bias in (b, None):
        inputs = (x, w) if bias is None else (x, w, bias)
        ours = grad_of(lambda *a: linear(a[0], a[1], a[2] if len(a) > 2 else None), *inputs)
        theirs = grad_of(lambda *a: TF.linear(*a), *inputs)
        torch.testing.assert_close(ours[0], theirs[0], rtol=1e-12, atol=0)
        for g_ours, g_theirs in zip(ours[1], theirs[1], strict=True):
            torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-14)


def test_mse_gradient_in_the_target_is_the_negative():
    y, t = rand(5, 3), rand(5, 3)
    _, (g_y, g_t) = grad_of(lambda a, b: LF.mse(a, b, "mean"), y, t)
    _, (r_y, r_t) = grad_of(lambda a, b: TF.mse_loss(a, b), y, t)
    torch.testing.assert_close(g_y, r_y, rtol=1e-12, atol=0)
    torch.testing.assert_close(g_t, r_t, rtol=1e-12, atol=0)


def test_backward_on_fresh_graphs_repeatedly_gives_the_same_result():
    x = rand(10)
    grads = []
    for _ in range(3):
        (g,) = torch.autograd.grad(F.sigmoid(F.relu(x)).sum(), x)
        grads.append(g)
    assert all(torch.equal(grads[0], g) for g in grads)


def count_saved(fn, *inputs):
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        fn(*inputs)
    return len(saved)


@pytest.mark.parametrize(
    ("name", "fn", "expected"),
    [
        ("step identity saves nothing", lambda x: F.step(x), 0),
        ("step clipped saves x", lambda x: F.step(x, "clipped"), 1),
        ("sigmoid saves its output only", F.sigmoid, 1),
        ("relu saves its output only", F.relu, 1),
        ("identity saves nothing", F.identity, 0),
    ],
)
def test_functions_save_the_minimum(name, fn, expected):
    assert count_saved(fn, rand(8)) == expected, name


def test_cross_entropy_matches_torch_on_large_logits():
    z = torch.tensor([[1e3, -1e3, 0.0], [30.0, 30.0, -30.0]], dtype=torch.float64)
    t = torch.tensor([1, 2])
    assert torch.isfinite(LF.cross_entropy(z, t, "mean"))
    torch.testing.assert_close(LF.cross_entropy(z, t, "mean"), TF.cross_entropy(z, t))

"""The whole-network backpropagation: one Function, the direct training step, the replica
dimension — each against torch's autograd or against nnkit's per-layer path."""

from __future__ import annotations

import pytest
import torch

import nnkit
from nnkit.data.task import loss_feed, loss_inputs
from nnkit.maths import functions as F
from nnkit.maths import network
from nnkit.maths.loss_functions import bce_pair, cross_entropy_pair, mse_pair
from nnkit.models import MLP
from nnkit.proof import networks as netcheck

ACTIVATIONS = ["relu", "sigmoid", "step", "identity", ["relu", "sigmoid", "step"]]


def per_layer(net: MLP) -> MLP:
    """The same network, forced onto one hand-derived Function per layer."""
    net.pairs, net.backprop = None, "per layer (forced)"
    return net


def twin_paths(activation, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    whole = MLP(3, 4, hidden=[8, 6, 5], activation=activation).to(dtype)
    torch.manual_seed(seed)
    layers = per_layer(MLP(3, 4, hidden=[8, 6, 5], activation=activation).to(dtype))
    return whole, layers


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_every_network_row_passes(activation):
    row = netcheck.check_network(activation)
    assert row.verdict == "pass", row
    assert row.max_rel <= 1e-12


def test_a_wrong_network_backward_makes_its_row_fail(monkeypatch):
    right = network.network_backward

    def wrong(*args):
        return [None if g is None else g * 1.001 for g in right(*args)]

    monkeypatch.setattr(network, "network_backward", wrong)
    row = netcheck.check_network("relu")
    assert row.verdict == "FAIL" and "relative error" in row.detail


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_whole_network_and_per_layer_paths_give_the_same_gradients(activation):
    whole, layers = twin_paths(activation)
    assert whole.backprop.startswith("whole network") and layers.pairs is None
    x = torch.randn(17, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    upstream = torch.randn(17, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    grads = [
        torch.autograd.grad(net(x), list(net.parameters()), upstream) for net in (whole, layers)
    ]
    for a, b in zip(*grads, strict=True):
        assert float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)) <= 1e-12


def test_whole_network_and_per_layer_paths_train_to_the_same_weights():
    whole, layers = twin_paths("relu", dtype=torch.float32)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(3))
    target = torch.randn(64, 4, generator=torch.Generator().manual_seed(4))
    for net in (whole, layers):
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        for i in range(10):
            optimizer.zero_grad()
            nnkit.build_loss("mse")(net(x[i::10]), target[i::10]).backward()
            optimizer.step()
    for p, q in zip(whole.parameters(), layers.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


CASES = [
    ("binary", "bce", bce_pair("mean"), torch.randint(0, 2, (9, 1)).double(), 1),
    ("binary", "mse", mse_pair("mean"), torch.randint(0, 2, (9, 1)).double(), 1),
    ("multiclass", "cross_entropy", cross_entropy_pair("sum"), torch.arange(9) % 4, 4),
    ("multiclass", "mse", mse_pair("sum"), torch.arange(9) % 4, 4),
    ("regression", "mse", mse_pair("mean"), torch.randn(9, 2, dtype=torch.float64), 2),
]


@pytest.mark.parametrize(("task", "loss_name", "pair", "y", "outputs"), CASES)
def test_the_direct_training_step_equals_autograd_of_network_and_loss(
    task, loss_name, pair, y, outputs
):
    reduction = "sum" if loss_name == "cross_entropy" or task == "multiclass" else "mean"
    loss = nnkit.build_loss(loss_name, reduction=reduction)
    torch.manual_seed(0)
    net = MLP(3, outputs, hidden=[7, 5], activation=["sigmoid", "relu"]).double()
    x = torch.randn(9, 3, dtype=torch.float64)
    expected = loss(*loss_inputs(task, loss)(net(x), y))
    expected_grads = torch.autograd.grad(expected, list(net.parameters()))
    feed = loss_feed(task, loss)
    target = feed.targets(y, outputs, torch.float64)
    squash = F.SIGMOID if feed.squash else None
    cost, _, grads = network.network_loss_grads(
        x, target, net.pairs, net.network_params(), pair, squash
    )
    assert float(abs(cost - expected.detach())) <= 1e-12 * float(abs(expected.detach()))
    for a, b in zip(grads, expected_grads, strict=True):
        assert float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)) <= 1e-12


def test_an_activation_without_a_pair_runs_per_layer_and_says_why():
    nnkit.register_activation("softsign", lambda x: x / (1 + x.abs()))
    net = MLP(2, 1, hidden=[4], activation="softsign")
    assert net.pairs is None
    assert net.backprop.startswith("per layer:") and "brings no hand-derived" in net.backprop
    assert MLP(2, 1, hidden=[4], backend="torch").backprop.startswith("torch autograd")


def test_a_plugin_function_with_a_pair_joins_the_whole_network_path():
    class Cube(torch.autograd.Function):
        pair = F.Pair(lambda x: x**3, lambda x, y, g: 3 * x * x * g, needs_input=True)

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    nnkit.register_activation("cube", Cube)
    net = MLP(2, 1, hidden=[3, 3], activation="cube").double()
    assert net.backprop.startswith("whole network")
    reference = per_layer(MLP(2, 1, hidden=[3, 3], activation="cube").double())
    reference.load_state_dict(net.state_dict())
    x = torch.randn(5, 2, dtype=torch.float64)
    a = torch.autograd.grad(net(x).sum(), list(net.parameters()))
    b = torch.autograd.grad(reference(x).sum(), list(reference.parameters()))
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_a_leading_replica_dimension_trains_each_replica_on_its_own():
    replicas = 3
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(replicas, 6, 2, dtype=torch.float64, generator=generator)  # (R, N, in)
    params = [
        torch.randn(shape, dtype=torch.float64, generator=generator)
        for shape in [(replicas, 5, 2), (replicas, 5), (replicas, 3, 5), (replicas, 3)]
    ]
    upstream = torch.randn(replicas, 6, 3, dtype=torch.float64, generator=generator)
    leaves = [p.clone().requires_grad_(True) for p in params]
    batched = torch.autograd.grad(network.network(x, (F.RELU,), *leaves), leaves, upstream)
    for r in range(replicas):
        one = [p[r].clone().requires_grad_(True) for p in params]
        grads = torch.autograd.grad(network.network(x[r], (F.RELU,), *one), one, upstream[r])
        for g_batched, g_one in zip(batched, grads, strict=True):
            torch.testing.assert_close(g_batched[r], g_one, rtol=1e-12, atol=1e-14)

"""Models: whole networks on nnkit's Functions against plain torch, and the article's example."""

from __future__ import annotations

import math

import pytest
import torch

import nnkit
from nnkit.models import MLP, build_model


def twin_networks(activation, hidden=(6, 5)):
    torch.manual_seed(0)
    ours = build_model("mlp", 3, 4, hidden=list(hidden), activation=activation).double()
    torch.manual_seed(0)
    theirs = build_model(
        "mlp", 3, 4, hidden=list(hidden), activation=activation, backend="torch"
    ).double()
    return ours, theirs


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "step", "identity", ["relu", "sigmoid"]])
def test_mlp_parameter_gradients_match_plain_torch(activation):
    ours, theirs = twin_networks(activation)
    x = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    target = torch.randn(16, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mse, reference = nnkit.build_loss("mse"), nnkit.build_loss("mse", backend="torch")
    mse(ours(x), target).backward()
    reference(theirs(x), target).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        scale = q.grad.abs().max().clamp_min(1e-300)
        assert float((p.grad - q.grad).abs().max() / scale) <= 1e-12, name


def test_same_seed_gives_same_initial_weights_on_both_backends():
    ours, theirs = twin_networks("relu")
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p, q)


def test_linear_model_has_no_hidden_layer():
    net = build_model("linear", 2, 1)
    assert [type(m).__name__ for m in net.layers] == ["Linear"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden": [4, 0]}, r"model.hidden=\[4, 0\] must list positive widths"),
        ({"hidden": [4], "activation": ["relu", "relu"]}, "lists 2 names for 1 hidden layers"),
    ],
)
def test_bad_architectures_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(2, 1, **kwargs)


def test_article_worked_example_2_2_1():
    """Inputs (1, 0.5); hidden unit 1 has weights (1, 0.5) and bias 2, so it receives 3.25 and
    ReLU leaves it unchanged; hidden unit 2 (weights (-0.5, 0.4), chosen to receive the
    article's -0.3) is crushed to 0; output weights (2, -1.25) give 6.5, sigmoid 0.9985."""
    net = MLP(2, 1, hidden=[2], activation="relu").double()
    hidden_layer, relu, output_layer = net.layers
    with torch.no_grad():
        hidden_layer.weight.copy_(torch.tensor([[1.0, 0.5], [-0.5, 0.4]]))
        hidden_layer.bias.copy_(torch.tensor([2.0, 0.0]))
        output_layer.weight.copy_(torch.tensor([[2.0, -1.25]]))
        output_layer.bias.zero_()
    x = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    received = hidden_layer(x)
    assert received.tolist() == [[3.25, pytest.approx(-0.3)]]
    activated = relu(received)
    assert activated.tolist() == [[3.25, 0.0]]
    output_in = output_layer(activated)
    assert output_in.item() == 6.5
    answer = nnkit.build_activation("sigmoid")(output_in).item()
    assert answer == pytest.approx(1 / (1 + math.exp(-6.5)), rel=1e-15)
    assert round(answer, 4) == 0.9985

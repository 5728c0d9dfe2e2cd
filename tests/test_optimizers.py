"""Optimizers are a registry like the others: typed settings, refused strangers, plugins."""

from __future__ import annotations

import pytest
import torch

import nnkit
from nnkit.optimizers import OPTIMIZERS, build_optimizer
from nnkit.train import run
from tests.helpers import FAST


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_lowers_a_simple_loss(name):
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(3))
    optimizer = build_optimizer(name, [weight], lr=0.05)
    start = float((weight**2).sum())
    for _ in range(20):
        optimizer.zero_grad()
        (weight**2).sum().backward()
        optimizer.step()
    assert float((weight**2).sum()) < 0.8 * start


def test_adamw_trains_through_the_config(tmp_path):
    metrics = run(["optimizer=adamw", *FAST, "logger=none", f"hydra.run.dir={tmp_path}"])
    assert metrics["train/loss"] < 2.3  # below chance level (ln 10) after 3 epochs


def test_a_plugin_optimizer_is_chosen_and_configured_by_name(tmp_path):
    seen = {}

    @nnkit.register_optimizer("halving_sgd")
    def halving_sgd(params, lr: float = 0.2, halve: bool = True):
        seen["lr"], seen["halve"] = lr, halve
        return torch.optim.SGD(params, lr=lr / 2 if halve else lr)

    run(
        [
            "optimizer=halving_sgd",
            "optimizer.lr=0.4",
            *FAST,
            "logger=none",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    assert seen == {"lr": 0.4, "halve": True}

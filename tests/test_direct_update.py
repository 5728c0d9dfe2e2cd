"""The optimizer's direct update is ``optimizer.step()`` bit for bit, or it is not used."""

from __future__ import annotations

import pytest
import torch

from nnkit.optimizers import build_optimizer
from nnkit.training.direct_update import direct_update


def _params(seed: int) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    return [torch.nn.Parameter(torch.randn(s, generator=generator)) for s in shapes]


def _grads(step: int, params) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(p.shape, generator=generator) for p in params]


@pytest.mark.parametrize(
    "name, settings",
    [
        ("adam", {"lr": 0.01}),
        ("adam", {"lr": 0.03, "weight_decay": 0.1, "betas": [0.8, 0.99]}),
        ("adamw", {"lr": 0.01, "weight_decay": 0.05}),
        ("sgd", {"lr": 0.1}),
    ],
)
def test_direct_update_equals_step_bit_for_bit(name, settings):
    stepped, direct = _params(0), _params(0)
    by_step = build_optimizer(name, stepped, **settings)
    by_direct = build_optimizer(name, direct, **settings)
    update = None
    for step in range(25):
        grads = _grads(step, stepped)
        for param, grad in zip(stepped, grads, strict=True):
            param.grad = grad.clone()
        by_step.step()
        if update is None:  # the first step creates Adam's state; the direct update reuses it
            for param, grad in zip(direct, grads, strict=True):
                param.grad = grad.clone()
            by_direct.step()
            update = direct_update(by_direct)
            assert update is not None
        else:
            update(grads)
    for a, b in zip(stepped, direct, strict=True):
        assert torch.equal(a, b)
    state_a, state_b = by_step.state_dict()["state"], by_direct.state_dict()["state"]
    for key in state_a:
        for field, value in state_a[key].items():
            assert torch.equal(value, state_b[key][field]), field


@pytest.mark.parametrize(
    "name, settings",
    [
        ("sgd", {"momentum": 0.9}),
        ("sgd", {"weight_decay": 0.1}),
        ("adam", {"fused": False}),
    ],
)
def test_settings_without_a_direct_update_keep_step(name, settings):
    params = _params(1)
    optimizer = build_optimizer(name, params, lr=0.01, **settings)
    for param in params:
        param.grad = torch.ones_like(param)
    optimizer.step()
    assert direct_update(optimizer) is None


def test_amsgrad_and_hooks_keep_step():
    params = _params(2)
    amsgrad = torch.optim.Adam(params, lr=0.01, amsgrad=True, fused=True)
    hooked = build_optimizer("sgd", _params(3), lr=0.1)
    hooked.register_step_post_hook(lambda *args: None)
    assert direct_update(amsgrad) is None
    assert direct_update(hooked) is None


def test_adam_before_its_first_step_has_no_direct_update():
    assert direct_update(build_optimizer("adam", _params(4), lr=0.01)) is None


def test_gradients_are_reordered_to_the_optimizer_s_parameters():
    params = _params(5)
    update = direct_update(build_optimizer("sgd", params, lr=0.1))
    assert update is not None
    assert update.order_of(params[::-1]) == [3, 2, 1, 0]
    assert update.order_of(params[:3]) is None
    assert update.order_of([*params[:3], torch.nn.Parameter(torch.zeros(2))]) is None

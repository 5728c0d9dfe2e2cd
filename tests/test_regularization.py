"""``regularization``: the weights' L1 or L2 penalty, inside the hand-derived step, equal to
torch's autograd of the penalised cost, through every step path, and refused when malformed."""

from __future__ import annotations

import pytest
import torch

from nnkit.maths.loss_functions import mse_pair
from nnkit.maths.network import network_loss_grads
from nnkit.maths.regularization import Regularization
from nnkit.models import build_model
from nnkit.train import run
from tests.helpers import cli

QUICK = ["data=circular", "data.n=200", "trainer.progress_bar=none", "logger=none",
         "model.hidden=[8]", "model.activation=tanh"]  # fmt: skip


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_the_hand_derived_step_adds_the_penalty_as_autograd_does(kind):
    torch.manual_seed(0)
    net = build_model("mlp", 2, 1, hidden=[5, 3], activation="tanh").double()
    x, t = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    penalty = Regularization(kind, 0.3)
    params = net.network_params()
    cost, _, grads = network_loss_grads(x, t, net.pairs, params, mse_pair("mean"), None, penalty)
    expected_cost = torch.nn.functional.mse_loss(net(x), t)
    total = expected_cost + penalty.rate * sum(
        (w.abs().sum() if kind == "l1" else 0.5 * (w * w).sum()) for w in params[0::2]
    )
    expected = torch.autograd.grad(total, params)
    assert torch.allclose(cost, expected_cost, rtol=1e-12, atol=0)  # the data's cost
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)


def _weights(run_dir) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return {k: v for k, v in ckpt["state_dict"].items() if k.endswith("weight")}


def test_l1_shrinks_the_weights_and_every_step_path_agrees(tmp_path):
    common = [*QUICK, "trainer.max_epochs=4", "trainer.precision=64-true"]
    paths = {
        "none": ["trainer.compile=false"],
        "eager": ["regularization.kind=l1", "regularization.rate=0.01", "trainer.compile=false"],
        "autograd": ["regularization.kind=l1", "regularization.rate=0.01", "model.backend=torch"],
    }
    for name, extra in paths.items():
        run([*common, *extra, f"hydra.run.dir={tmp_path / name}"])
    plain, eager, autograd = (_weights(tmp_path / n) for n in paths)
    assert sum(float(w.abs().sum()) for w in eager.values()) < sum(
        float(w.abs().sum()) for w in plain.values()
    )
    assert eager.keys() == autograd.keys()
    for key in eager:  # the same penalised mathematics, whichever path differentiates it
        torch.testing.assert_close(eager[key], autograd[key], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "override, message",
    [
        ("regularization.kind=l3", "regularization.kind='l3' is not valid — did you mean 'l2'?"),
        ("regularization.rate=-1", "regularization.rate=-1"),
    ],
)
def test_a_bad_regularization_is_refused_in_one_line(tmp_path, override, message):
    done = cli("nnkit.train", *QUICK, override, f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "checkpoints").exists()

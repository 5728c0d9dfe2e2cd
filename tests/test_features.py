"""``model.features``: the Playground's input features, part of the model, through every step
path and every command that reads a checkpoint, and refused when they cannot apply."""

from __future__ import annotations

import pytest
import torch

from nnkit.maths.features import FEATURES, Features
from nnkit.train import run
from tests.helpers import cli

QUICK = ["data=circular", "data.n=300", "trainer.progress_bar=none", "logger=none"]


def test_each_feature_is_its_function_of_the_two_inputs():
    x = torch.tensor([[0.5, -2.0], [3.0, 1.0]])
    expanded = Features(list(FEATURES))(x)
    x1, x2 = x[:, 0], x[:, 1]
    expected = torch.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, x1.sin(), x2.sin()], dim=1)
    assert torch.equal(expanded, expected)


def test_squared_features_let_a_linear_model_draw_the_circle(tmp_path):
    common = [*QUICK, "data.n=1000", "model=linear", "trainer.max_epochs=30"]
    plain = run([*common, f"hydra.run.dir={tmp_path / 'plain'}"])
    squares = run([*common, "model.features=[x1_sq,x2_sq]", f"hydra.run.dir={tmp_path / 'sq'}"])
    assert plain["val/acc"] < 0.8 < squares["val/acc"]


@pytest.mark.parametrize("path", ["trainer.compile=native", "model.backend=torch"])
def test_features_train_alike_through_every_step_path(tmp_path, path):
    common = [*QUICK, "model.hidden=[4]", "model.activation=tanh", "trainer.max_epochs=3",
              "trainer.precision=64-true", "model.features=[x1,x2,x1x2,sin_x1,sin_x2]"]  # fmt: skip
    run([*common, "trainer.compile=false", f"hydra.run.dir={tmp_path / 'eager'}"])
    run([*common, path, f"hydra.run.dir={tmp_path / 'other'}"])
    load = lambda d: torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]  # noqa: E731
    eager, other = load(tmp_path / "eager"), load(tmp_path / "other")
    assert eager["net.layers.0.weight"].shape == (4, 5)
    for key in eager:
        torch.testing.assert_close(other[key], eager[key], rtol=1e-10, atol=1e-12)


def test_a_checkpoint_with_features_predicts_from_the_two_raw_inputs(tmp_path):
    run([*QUICK, "model.features=[x1_sq,x2_sq,x1x2]", "trainer.max_epochs=2",
         f"hydra.run.dir={tmp_path}"])  # fmt: skip
    done = cli("nnkit.predict", f"ckpt={tmp_path}/checkpoints/last.ckpt", "input=[0.1,0.2]")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "prediction:" in done.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([*QUICK, "model.features=[x1,x3]"], "unknown feature 'x3' — did you mean 'x2'?"),
        ([*QUICK, "model.features=[x1,x1]"], "names a feature twice"),
        (["data=seven_segment", "model.features=[x1]"], "needs data with two inputs"),
    ],
)
def test_features_that_cannot_apply_are_refused_in_one_line(tmp_path, overrides, message):
    done = cli("nnkit.train", *overrides, f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr

"""Every built-in dataset keeps the figure the README promises for its default run
(``python -m nnkit.train data=NAME``, nothing else changed), and the article's contrasts hold:
a linear model cannot fit the circle, the network fits the curve far better than a line, no
plane fits the bump, and units that start equal stay equal."""

from __future__ import annotations

import pytest
import torch

from nnkit.train import run
from tests.helpers import scalar_series

QUIET = ["trainer.progress_bar=none", "logger=none"]  # neither changes a number

PROMISES = {  # dataset: (metric, the least its default run reaches)
    "seven_segment": ("val/acc", 1.0),
    "circular": ("val/acc", 0.97),
    "xor": ("val/acc", 0.95),
    "spiral": ("val/acc", 0.9),
    "gaussians": ("val/acc", 0.97),
    "digits": ("val/acc", 0.95),
    "linear": ("val/r2", 0.99),
    "nonlinear": ("val/r2", 0.95),
    "plane": ("val/r2", 0.97),
    "bump": ("val/r2", 0.93),
}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(PROMISES))
def test_each_default_run_keeps_its_promise(tmp_path, dataset):
    metric, least = PROMISES[dataset]
    metrics = run([f"data={dataset}", *QUIET, f"hydra.run.dir={tmp_path}"])
    assert metrics[metric] >= least, (dataset, metric, metrics[metric])


@pytest.mark.slow
def test_a_linear_model_cannot_fit_the_circle(tmp_path):
    metrics = run(["data=circular", "model=linear", *QUIET, f"hydra.run.dir={tmp_path}"])
    assert metrics["val/acc"] <= 0.7


@pytest.mark.slow
def test_the_network_fits_the_curve_far_better_than_a_line(tmp_path):
    mlp = run(["data=nonlinear", *QUIET, f"hydra.run.dir={tmp_path / 'mlp'}"])
    line = run(["data=nonlinear", "model=linear", *QUIET, f"hydra.run.dir={tmp_path / 'line'}"])
    assert mlp["val/mse"] * 5 <= line["val/mse"]


@pytest.mark.slow
def test_no_plane_fits_the_bump(tmp_path):
    line = run(["data=bump", "model=linear", *QUIET, f"hydra.run.dir={tmp_path}"])
    assert line["val/r2"] < 0.1


@pytest.mark.parametrize(
    ("init", "symmetric"), [("zeros", True), ("ones", True), ("small_random", False)]
)
def test_a_constant_start_keeps_every_hidden_unit_of_a_layer_the_same(tmp_path, init, symmetric):
    network = ["model.hidden=[4,3]", "model.activation=tanh", f"model.init={init}"]
    run(["data=circular", "data.n=200", *network, "trainer.max_epochs=30", *QUIET,
         f"hydra.run.dir={tmp_path}"])  # fmt: skip
    trained = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for layer in ("net.layers.0", "net.layers.2"):  # each unit: its row of weights, its bias
        units = torch.cat([trained[f"{layer}.weight"], trained[f"{layer}.bias"][:, None]], dim=1)
        assert (len(set(map(tuple, units.tolist()))) == 1) == symmetric, (init, layer, units)
    outgoing = trained["net.layers.4.weight"]  # what the output takes from each last unit
    assert (len(set(outgoing.flatten().tolist())) == 1) == symmetric


DEEP_SIGMOID = [  # ten sigmoid layers as wide as the inputs (so the first has its skip too)
    "data=circular", "data.n=200", "model.hidden=[7,7,7,7,7,7,7,7,7,7]",
    "model.activation=sigmoid", "model.features=[x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2]",
    "optimizer=sgd", "optimizer.lr=0.1", "trainer.max_epochs=3", "trainer.log_every_n_steps=5",
    "trainer.progress_bar=none",
]  # fmt: skip


@pytest.mark.parametrize(
    ("layers", "measured", "rescued"),
    [
        ([], ("bias", "weight"), False),
        (["model.residual=true"], ("bias",), True),
        (["model.norm=batch"], ("weight",), True),
    ],
    ids=["plain", "residual", "batch_norm"],
)
def test_residual_connections_and_batch_normalization_carry_the_gradient_back(
    tmp_path, layers, measured, rescued
):
    """The gradient-norm bars' promise, read back from the run's own event files: in a deep
    sigmoid network the first layer's gradient is ≥ 100× smaller than the last hidden layer's;
    with residual connections, or batch normalization, within 10× of it. The error reaching a
    layer is its bias's gradient (Σ dL/dz, which the size of the layer's inputs does not scale:
    with residual connections the hidden values grow layer by layer, the first layer's inputs do
    not); before a batch normalization that gradient is 0 by construction, so there it is the
    weights'."""
    run([*DEEP_SIGMOID, *layers, f"hydra.run.dir={tmp_path}"])
    for kind in measured:
        first, last = (
            scalar_series(tmp_path / "tensorboard", f"grad_norm/layers.{index}.{kind}")[-1][1]
            for index in (0, 18)  # the first hidden layer, the tenth
        )
        ratio = first / last
        assert (ratio >= 0.1) if rescued else (ratio <= 0.01), (layers, kind, first, last)

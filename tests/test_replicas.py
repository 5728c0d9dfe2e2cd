"""Many networks in one run: each replica is exactly the single run with its seed."""

from __future__ import annotations

import json

import pytest
import torch

import nnkit
from nnkit.maths.functions import RELU, SIGMOID
from nnkit.maths.loss_functions import cross_entropy_pair, mse_pair, replicated
from nnkit.maths.network import network_loss_grads
from nnkit.models import MLP
from nnkit.replicas import ReplicaMLP
from nnkit.train import run
from tests.helpers import cli, event_tags, main_exit, main_run

QUICK = ["data=circular", "data.n=300", "trainer.progress_bar=none", "model.hidden=[5]"]


def last_weights(folder):
    return torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_each_replica_trains_as_the_single_run_with_its_seed(tmp_path, optimizer):
    common = [*QUICK, "trainer.max_epochs=3", "logger=none", f"optimizer={optimizer}"]
    together = run([*common, "seed=4", "trainer.replicas=3", f"hydra.run.dir={tmp_path / 'r'}"])
    stacked = last_weights(tmp_path / "r")
    for r in range(3):
        alone = run([*common, f"seed={4 + r}", f"hydra.run.dir={tmp_path / str(r)}"])
        single = last_weights(tmp_path / str(r))
        for layer in range(2):
            for kind, stacked_name in (("weight", "weights"), ("bias", "biases")):
                mine = stacked[f"net.{stacked_name}.{layer}"][r]
                torch.testing.assert_close(mine, single[f"net.layers.{2 * layer}.{kind}"],
                                           rtol=1e-5, atol=1e-6)  # fmt: skip
        assert together["replicas"][r]["val/acc"] == alone["val/acc"]
        assert together["replicas"][r]["test/acc"] == alone["test/acc"]


@pytest.mark.parametrize(
    ("make_pair", "targets", "outputs", "squash"),
    [
        (mse_pair, lambda g: torch.rand(3, 6, 2, generator=g, dtype=torch.float64), 2, SIGMOID),
        (cross_entropy_pair, lambda g: torch.randint(0, 4, (3, 6), generator=g), 4, None),
    ],
)
def test_replica_gradients_are_each_single_networks_gradients(make_pair, targets, outputs, squash):
    g = torch.Generator().manual_seed(0)
    nets = ReplicaMLP.build(lambda: MLP(3, outputs, hidden=[5, 4]).double(), seeds=[0, 1, 2])
    x = torch.randn(3, 6, 3, generator=g, dtype=torch.float64)
    t = targets(g)
    pair = replicated(make_pair, "mean", 3)
    params = nets.network_params()
    _, _, grads = network_loss_grads(x, t, nets.pairs, params, pair, squash)
    for r in range(3):
        single = nets.replica(r).double()
        _, _, own = network_loss_grads(
            x[r], t[r], single.pairs, single.network_params(), make_pair("mean"), squash
        )
        for batched, alone in zip(grads, own, strict=True):
            assert torch.equal(batched[r], alone) or torch.allclose(
                batched[r], alone, rtol=1e-12, atol=1e-15
            )


def test_autograd_paths_agree_with_the_direct_path(tmp_path):
    common = [*QUICK, "trainer.max_epochs=2", "logger=none", "trainer.replicas=2"]
    direct = run([*common, f"hydra.run.dir={tmp_path / 'd'}"])
    torch_path = run([*common, "model.backend=torch", f"hydra.run.dir={tmp_path / 't'}"])
    nnkit.register_activation("relu_plain", lambda x: x.clamp_min(0))
    layers = run([*common, "model.activation=relu_plain", f"hydra.run.dir={tmp_path / 'l'}"])
    a, b, c = (last_weights(tmp_path / k) for k in ("d", "t", "l"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a[key], c[key], rtol=1e-4, atol=1e-5)
    assert direct["replicas"][1]["val/acc"] == torch_path["replicas"][1]["val/acc"]
    assert layers["val/acc"] == pytest.approx(direct["val/acc"], abs=0.02)


def test_the_article_network_prints_solved_k_of_n_as_single_runs_count(tmp_path):
    common = ["model.hidden=[4]", "trainer.max_epochs=60", "trainer.progress_bar=none"]
    result = cli(
        "nnkit.train", *common, "trainer.replicas=5", "logger=none", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    solved = [
        run([*common, "logger=none", f"seed={s}", f"hydra.run.dir={tmp_path / str(s)}"])["val/acc"]
        == 1.0
        for s in range(5)
    ]
    assert f"solved {sum(solved)}/5" in result.stdout
    assert "epochs: lightning (trainer.epoch_loop=auto, but replicas'" in result.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["val/acc"] == 1.0 for r in metrics["replicas"]] == solved
    assert metrics["val/acc_min"] <= metrics["val/acc"] <= metrics["val/acc_max"]


def test_replicas_resume_exactly_and_predict_any_replica(tmp_path):
    common = [*QUICK, "logger=none", "trainer.replicas=3"]
    run([*common, "trainer.max_epochs=4", f"hydra.run.dir={tmp_path / 'whole'}"])
    run([*common, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'part'}"])
    run([*common, "trainer.max_epochs=4", "ckpt_path=last", f"hydra.run.dir={tmp_path / 'part'}"])
    a, b = last_weights(tmp_path / "whole"), last_weights(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt = tmp_path / "whole" / "checkpoints" / "last.ckpt"
    scores = torch.load(ckpt, weights_only=True)["nnkit_replica_scores"]["val/acc"]
    best, _ = nnkit.load_model(ckpt)
    chosen, _ = nnkit.load_model(ckpt, str(int(scores.argmax())))
    assert all(torch.equal(p, q) for p, q in zip(best.parameters(), chosen.parameters()))
    first, _ = nnkit.load_model(ckpt, "0")
    assert torch.equal(first.layers[0].weight, a["net.weights.0"][0])


def test_tensorboard_shows_the_spread_and_every_replica(tmp_path):
    run([*QUICK, "trainer.max_epochs=2", "trainer.replicas=3", f"hydra.run.dir={tmp_path}"])
    tags = event_tags(tmp_path / "tensorboard")
    assert {"val/acc", "val/acc_min", "val/acc_max"} <= set(tags["scalars"])
    assert {f"replicas/val/acc/{r:03d}" for r in range(3)} <= set(tags["scalars"])
    assert any(t.startswith("figures/decision_boundary_best_r") for t in tags["images"])
    assert any(t.startswith("figures/decision_boundary_worst_r") for t in tags["images"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    histograms = []
    for events in (tmp_path / "tensorboard").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"histograms": 0})
        accumulator.Reload()
        histograms += accumulator.Tags()["histograms"]
    assert "replicas/val/acc" in histograms


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trainer.replicas=0"], "trainer.replicas=0 is out of range"),
        (["trainer.replicas=-3"], "trainer.replicas=-3 is out of range"),
        (["trainer.replicas=2.5"], "could not be converted to Integer"),
        (["trainer.replicas=100000", "model.hidden=[4000]"], "GiB is free"),
        (["seed=4294967295", "trainer.replicas=2"], "seed=4294967296 is out of range"),
    ],
)
def test_bad_replica_settings_are_one_line_refusals(tmp_path, monkeypatch, capsys, args, message):
    code, err = main_exit([*args, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert code == 2 and message in err, err[-2000:]
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_model_that_cannot_be_stacked_is_refused(tmp_path):
    plugin = tmp_path / "odd_model.py"
    plugin.write_text(
        "import torch, nnkit\n\n@nnkit.register_model('odd')\n"
        "def odd(in_features: int, out_features: int):\n"
        "    return torch.nn.Linear(in_features, out_features)\n"
    )
    result = cli(
        "nnkit.train", f"plugins=[{plugin}]", "model=odd", "trainer.replicas=2",
        f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs a model nnkit can stack (an MLP: mlp, linear)" in result.stderr


def test_relu_pair_is_what_replicas_use():
    nets = ReplicaMLP.build(lambda: MLP(2, 1, hidden=[3]), seeds=[0, 1])
    assert nets.pairs == (RELU,) and nets(torch.zeros(4, 2)).shape == (2, 4, 1)


def test_a_sweep_trains_replicas_in_every_job(tmp_path, monkeypatch, capsys):
    line = ["-m", "model.activation=relu,sigmoid", "trainer.replicas=2", *QUICK,
            "trainer.max_epochs=1", "logger=none", f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    code, out, err = main_run(line, monkeypatch, capsys)
    assert code == 0, err[-2000:]
    for job in ("0", "1"):
        metrics = json.loads((tmp_path / job / "metrics.json").read_text())
        assert len(metrics["replicas"]) == 2
    assert "sweep summary (2 runs" in out

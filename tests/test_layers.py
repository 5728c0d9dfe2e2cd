"""Dropout, residual connections, layer and batch normalization: proved against torch's layers,
the native program equal to the hand-derived step, replicas equal to their single runs, exact
resume through the real CLI, and a user's mistake refused in one line."""

from __future__ import annotations

import pytest
import torch

from nnkit.losses import build_loss
from nnkit.maths import layers as maths_layers
from nnkit.models import MLP
from nnkit.proof.layers import check_layers
from nnkit.proof.ops import format_table
from nnkit.replicas import ReplicaMLP
from nnkit.rng import seed_everything
from nnkit.training.engine import Engine
from nnkit.viz.step import largest_difference, trace, trace_with_autograd
from tests.helpers import main_exit

F64 = torch.float64


def test_every_layer_and_network_row_of_the_proof_passes():
    rows = check_layers()
    assert len(rows) == 11 and all(row.verdict == "pass" for row in rows), format_table(rows)
    assert {"batch_norm[train]", "batch_norm[eval]", "layer_norm", "dropout[rate=0.99]"} <= {
        row.name for row in rows
    }


def test_a_wrong_normalization_backward_fails_its_row(monkeypatch):
    right = maths_layers.norm_backward

    def without_the_variance_term(kept, weight, grad):
        grad_z, grad_weight, grad_bias = right(kept, weight, grad)
        return (
            grad_z + kept.rstd * kept.xhat * (grad * weight * kept.xhat).mean(-1, True),
            grad_weight,
            grad_bias,
        )

    monkeypatch.setattr("nnkit.maths.layers.norm_backward", without_the_variance_term)
    rows = check_layers("layer_norm")
    assert [row.verdict for row in rows] == ["FAIL"] and "relative error" in rows[0].detail


def _batches(replicas: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(40, 2, generator=generator, dtype=F64)
    y = (x[:, 0] * x[:, 1] > 0).to(F64).unsqueeze(1)
    cut = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    if replicas:
        return [(a.expand(replicas, -1, -1), b.expand(replicas, -1, -1)) for a, b in cut]
    return cut


def _trained(net, compile: str, optimizer: dict, replicas: int = 0) -> Engine:
    engine = Engine(net, build_loss("bce"), "binary", 1, optimizer)
    engine.start(compile, 100, 8)
    for _ in range(3):
        engine.train(_batches(replicas))
    return engine


LAYOUTS = [
    {"norm": "layer"},
    {"norm": "batch", "dropout": 0.3},
    {"dropout": 0.5, "residual": True},
    {"norm": ["batch", "layer", "none"], "dropout": [0.2, 0.0, 0.4], "residual": True},
]


SGD, ADAMW = {"name": "sgd", "lr": 0.1, "momentum": 0.9}, {"name": "adamw", "lr": 0.05}
CASES = [  # Adam where no layer is batch-normalized (see the test's docstring)
    (layout, optimizer)
    for layout in LAYOUTS
    for optimizer in (SGD, ADAMW)
    if optimizer is SGD or "batch" not in str(layout.get("norm"))
]


@pytest.mark.parametrize(("layout", "optimizer"), CASES)
def test_the_native_program_trains_as_the_hand_derived_step(layout, optimizer):
    """Weights, normalizations' scales and running statistics, the masks' counter: equal to
    1e-12 after three calls. (Adam divides a gradient by its own size: the bias before a
    batch normalization has a gradient of 0 in exact arithmetic, rounding on both sides, which
    Adam turns into steps of lr·rounding/eps; so batch normalization is compared under SGD.)"""
    trained = {}
    for compile in ("native", "false"):
        torch.manual_seed(1)
        net = MLP(2, 1, hidden=[6, 6, 6], activation="tanh", **layout).double()
        trained[compile] = (_trained(net, compile, optimizer).path, net.state_dict())
    assert [path for path, _ in trained.values()] == ["native", "direct"]
    native, eager = (state for _, state in trained.values())
    for name in native:
        torch.testing.assert_close(native[name], eager[name], rtol=1e-12, atol=1e-12, msg=name)


@pytest.mark.parametrize("compile", ["native", "false"])
def test_replicas_train_as_their_single_runs(compile):
    """Replica r: the weights, normalizations, running statistics and dropout masks of the
    single run with seed r."""
    make = lambda: MLP(2, 1, hidden=[5, 5], activation="tanh", norm=["batch", "layer"],  # noqa: E731
                       dropout=0.3, residual=True).double()  # fmt: skip
    nets = ReplicaMLP.build(make, seeds=[0, 1, 2])
    assert _trained(nets, compile, SGD, replicas=3).path == (
        "native" if compile == "native" else "direct"
    )
    for r in range(3):
        seed_everything(r)
        single = make()
        _trained(single, "false", SGD)
        for name, value in single.state_dict().items():
            torch.testing.assert_close(
                nets.replica(r).state_dict()[name], value, rtol=1e-12, atol=1e-12
            )


def test_an_explained_step_shows_the_normalization_and_the_mask_and_matches_autograd():
    torch.manual_seed(0)
    net = MLP(2, 1, hidden=[4, 4], activation="tanh", norm=["batch", "layer"], dropout=0.5,
              residual=True).double()  # fmt: skip
    net(torch.randn(16, 2, dtype=F64))  # a training pass: the running statistics move
    x, target = torch.tensor([[0.3, -0.7]], dtype=F64), torch.tensor([[1.0]], dtype=F64)
    drawn = int(net.extras.dropout_draws)
    ours, theirs = trace(net, x, target, lr=0.1), trace_with_autograd(net, x, target, 0.1)
    assert int(net.extras.dropout_draws) == drawn  # shown, not spent
    assert largest_difference(ours, theirs) < 1e-12
    first, second = ours.layers[:2]
    running = net.extras.norms[0]
    assert torch.equal(first.mean, running.running_mean) and torch.equal(
        first.var, running.running_var
    )
    assert second.mean.shape == (1,) and set(first.mask.flatten().tolist()) <= {0.0, 2.0}
    assert torch.allclose(second.passed, first.passed + second.activated * second.mask)


def test_dropout_and_batch_normalization_leave_evaluation_deterministic():
    torch.manual_seed(0)
    net = MLP(2, 3, hidden=[8], norm="batch", dropout=0.5)
    engine = Engine(net, build_loss("cross_entropy"), "multiclass", 3, {"name": "sgd", "lr": 0.1})
    x = torch.randn(20, 2)
    first, second = (
        engine.evaluate(x, torch.zeros(20, dtype=torch.long)),
        engine.evaluate(x, torch.zeros(20, dtype=torch.long)),
    )
    assert torch.equal(first[0], second[0]) and net.training  # evaluated in eval mode, then back
    assert int(net.extras.dropout_draws) == 0 and int(net.extras.norms[0].num_batches_tracked) == 0


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            ["model.norm=btach"],
            "unknown model.norm 'btach' — did you mean 'batch'? (available: none, layer, batch)",
        ),
        (["model.dropout=1.0"], "model.dropout=1.0 must be a rate from 0 up to (not) 1"),
        (
            ["model.residual=true", "model.hidden=[4]"],
            "model.residual=true needs a hidden layer as wide as its input",
        ),
        (
            ["model.norm=batch", "data.batch_size=1"],
            "data.batch_size=1: batch normalization (model.norm=batch) needs two rows",
        ),
        (
            [
                "model.norm=batch",
                "data=xor",
                "data.n=50",
                "data.train_fraction=0.7",
                "data.batch_size=34",
            ],
            "the last batch of 35 rows would hold one",
        ),
    ],
)
def test_a_mistake_is_refused_in_one_line_before_anything_is_written(
    tmp_path, monkeypatch, capsys, override, expected
):
    code, stderr = main_exit([*override, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert code == 2 and expected in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


LAYERED = ["data=circular", "data.n=120", "model.hidden=[6,6]", "model.activation=tanh",
           "model.norm=[batch,layer]", "model.dropout=0.2", "model.residual=true",
           "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9",  # Adam: see above
           "trainer.precision=64", "trainer.progress_bar=none", "logger=none"]  # fmt: skip


def test_a_layered_run_natively_equals_the_hand_derived_one_and_resumes_bit_for_bit(tmp_path):
    """Real runs of one layered network: by the native program and by the hand-derived step
    (6 epochs each; their last and best checkpoints equal to 1e-12, running statistics and
    the masks' counter included), and a native run of 3 epochs resumed to 6: bit-identical to
    the straight one."""
    from nnkit.train import run

    runs = {
        "native": ["trainer.compile=native", "trainer.max_epochs=6"],
        "eager": ["trainer.compile=false", "trainer.max_epochs=6"],
        "half": ["trainer.compile=native", "trainer.max_epochs=3"],
        "resumed": ["trainer.compile=native", "trainer.max_epochs=6",
                    f"ckpt_path={tmp_path / 'half' / 'checkpoints' / 'last.ckpt'}"],
    }  # fmt: skip
    for name, extra in runs.items():
        run([*LAYERED, *extra, f"hydra.run.dir={tmp_path / name}"])

    def state(name: str, kind: str = "last") -> dict[str, torch.Tensor]:
        path = tmp_path / name / "checkpoints" / f"{kind}.ckpt"
        return torch.load(path, weights_only=False)["state_dict"]

    for kind in ("last", "best"):
        native, eager = state("native", kind), state("eager", kind)
        assert (
            "net.extras.norms.0.running_var" in native
            and int(native["net.extras.dropout_draws"]) > 0
        )
        for name, value in native.items():
            torch.testing.assert_close(
                value, eager[name], rtol=1e-12, atol=1e-12, msg=f"{kind}: {name}"
            )
    straight, resumed = state("native"), state("resumed")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[name], resumed[name]) for name in straight), [
        name for name in straight if not torch.equal(straight[name], resumed[name])
    ]


@pytest.mark.parametrize("backend", ["nnkit", "torch"])
def test_batch_normalization_refuses_a_training_batch_of_one_row_in_one_line(backend):
    net = MLP(2, 1, hidden=[3], norm="batch", backend=backend)
    with pytest.raises(
        ValueError, match=r"^batch normalization needs at least 2 rows per training batch, got 1"
    ):
        net(torch.zeros(1, 2))
    assert net.eval()(torch.zeros(1, 2)).shape == (1, 1)  # evaluation: the running statistics

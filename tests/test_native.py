"""The native program: the eager step's mathematics to 1e-12 in float64, exact resume, the
eager fallback where no compiler works, and ``auto``'s choice."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nnkit
from nnkit.activations import build_activation
from nnkit.maths.functions import SIGMOID
from nnkit.maths.loss_functions import bce_pair, cross_entropy_pair, mse_pair, replicated
from nnkit.maths.network import network_forward, network_loss_grads
from nnkit.maths.regularization import Regularization
from nnkit.native.build import unavailable_reason
from nnkit.native.plan import plan_program
from nnkit.train import run
from tests.helpers import cli

LOSSES = {"mse": mse_pair, "mse after a sigmoid": mse_pair, "bce": bce_pair,
          "cross_entropy": cross_entropy_pair}  # fmt: skip
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
    "sgd momentum weight_decay": lambda p: torch.optim.SGD(
        p, lr=0.05, momentum=0.9, weight_decay=0.01
    ),
    "adam weight_decay": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
}
NO_PROGRAM = unavailable_reason()
needs_program = pytest.mark.skipif(
    NO_PROGRAM is not None, reason=f"no native program: {NO_PROGRAM}"
)
QUICK = ["data=circular", "data.n=200", "trainer.progress_bar=none", "logger=none"]


def _activations() -> list[tuple[str, dict]]:
    cases = []
    for name in nnkit.ACTIVATIONS.names():
        for options in getattr(nnkit.ACTIVATIONS.get(name), "variants", ({},)):
            cases.append((name, dict(options)))
    return cases


def _network(widths: list[int], replicas: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    lead = (replicas,) if replicas > 1 else ()
    params = []
    for a, b in itertools.pairwise(widths):
        params += [torch.randn(*lead, b, a, generator=g, dtype=torch.float64) * 0.7,
                   torch.randn(*lead, b, generator=g, dtype=torch.float64) * 0.1]  # fmt: skip
    return params


def _train_both(
    pair, loss: str, optimizer: str, replicas: int, steps: int = 6, batch: int = 5,
    penalty: Regularization | None = None,
):  # fmt: skip
    """The same minibatches through the eager step + torch's optimizer, and through the
    native program (after torch's first step, which creates the optimizer's state)."""
    widths = [3, 5, 4, 4 if loss == "cross_entropy" else 2]
    loss_pair = replicated(LOSSES[loss], "mean", replicas) if replicas > 1 else LOSSES[loss]("mean")
    squash = SIGMOID if loss == "mse after a sigmoid" else None
    pairs = (pair, pair)
    g = torch.Generator().manual_seed(2)
    lead = (replicas,) if replicas > 1 else ()
    x = torch.randn(*lead, steps * batch, 3, generator=g, dtype=torch.float64)
    if loss == "cross_entropy":
        t = torch.randint(0, 4, (*lead, steps * batch), generator=g)
    else:
        t = torch.rand(*lead, steps * batch, 2, generator=g, dtype=torch.float64).round()
    eager, native = _network(widths, replicas), _network(widths, replicas)
    opt_eager, opt_native = OPTIMIZERS[optimizer](eager), OPTIMIZERS[optimizer](native)

    labels = loss == "cross_entropy"

    def rows_of(values: torch.Tensor, rows: slice) -> torch.Tensor:
        return values[..., rows] if values is t and labels else values[..., rows, :]

    def eager_step(params, opt, i):
        rows = slice(i * batch, (i + 1) * batch)
        xs, ts = rows_of(x, rows), rows_of(t, rows)
        cost, _, grads = network_loss_grads(xs, ts, pairs, params, loss_pair, squash, penalty)
        for p, grad in zip(params, grads, strict=True):
            p.grad = grad
        opt.step()
        return cost

    eager_costs = torch.stack([eager_step(eager, opt_eager, i) for i in range(steps)])
    eager_step(native, opt_native, 0)
    kind = (penalty.kind, penalty.rate) if penalty is not None else ("none", 0.0)
    program = plan_program(pairs, loss_pair, squash, widths, replicas, torch.float64, kind)
    assert not isinstance(program, str), program
    rest = slice(batch, steps * batch)
    offsets = torch.arange(0, (steps - 1) * batch + 1, batch)
    steps_native = program.bind(native, opt_native)
    costs, _, _ = steps_native.train(rows_of(x, rest), rows_of(t, rest), offsets)
    return eager, native, eager_costs[1:], costs, opt_eager, opt_native


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())


@needs_program
@pytest.mark.parametrize("name, options", _activations())
def test_every_activation_trains_natively_as_the_eager_step_does(name, options):
    pair = build_activation(name, **options).pair()
    eager, native, eager_costs, costs, *_ = _train_both(pair, "mse", "sgd", 1)
    assert max(_relative(n, e) for n, e in zip(native, eager, strict=True)) <= 1e-12
    assert _relative(costs, eager_costs) <= 1e-12


@needs_program
@pytest.mark.parametrize(
    "loss, optimizer, replicas", list(itertools.product(LOSSES, OPTIMIZERS, [1, 3]))
)
def test_every_loss_and_optimizer_trains_natively_as_torch_does(loss, optimizer, replicas):
    pair = build_activation("tanh").pair()
    eager, native, eager_costs, costs, opt_eager, opt_native = _train_both(
        pair, loss, optimizer, replicas
    )
    assert max(_relative(n, e) for n, e in zip(native, eager, strict=True)) <= 1e-12
    assert _relative(costs, eager_costs) <= 1e-12
    for p_eager, p_native in zip(eager, native, strict=True):  # the optimizer's own state
        state_e, state_n = opt_eager.state[p_eager], opt_native.state[p_native]
        assert state_e.keys() == state_n.keys()
        for key in state_e:
            assert _relative(state_n[key], state_e[key]) <= 1e-12, key


@needs_program
@pytest.mark.parametrize(
    "kind, optimizer, replicas", list(itertools.product(["l1", "l2"], ["sgd", "adamw"], [1, 3]))
)
def test_the_regularized_step_trains_natively_as_the_eager_one(kind, optimizer, replicas):
    pair = build_activation("tanh").pair()
    penalty = Regularization(kind, 0.05)
    eager, native, eager_costs, costs, *_ = _train_both(
        pair, "mse", optimizer, replicas, penalty=penalty
    )
    assert max(_relative(n, e) for n, e in zip(native, eager, strict=True)) <= 1e-12
    assert _relative(costs, eager_costs) <= 1e-12


@needs_program
def test_the_maps_are_every_units_value_over_the_plane():
    pair = build_activation("tanh").pair()
    params = [p.float() for p in _network([2, 4, 2, 1], 1)]
    program = plan_program((pair, pair), mse_pair("mean"), None, [2, 4, 2, 1], 1, torch.float32)
    points = torch.rand(50, 2) * 2 - 1
    values = program.maps(params, points)
    output, inputs, _ = network_forward(points, (pair, pair), params)
    expected = torch.cat([inputs[1], inputs[2], output], dim=1)
    assert values.shape == (50, 7)
    torch.testing.assert_close(values, expected, rtol=1e-6, atol=1e-6)


def test_a_plugin_activation_has_no_native_version_and_says_so():
    from nnkit.maths.functions import Pair

    plugin = Pair(torch.sin, lambda x, y, g: g * torch.cos(x), True)  # no native name
    plan = plan_program((plugin,), mse_pair("mean"), None, [2, 3, 1], 1, torch.float32)
    assert plan == "an activation has no native version (a plugin's runs eagerly)"


def _final(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@needs_program
def test_the_cli_trains_natively_as_it_trains_eagerly_in_float64(tmp_path):
    common = [*QUICK, "model.hidden=[4,2]", "model.activation=tanh", "trainer.max_epochs=4",
              "trainer.precision=64-true", "data.batch_size=10"]  # fmt: skip
    for mode in ("native", "false"):
        run([*common, f"trainer.compile={mode}", f"hydra.run.dir={tmp_path / mode}"])
    native, eager = _final(tmp_path / "native"), _final(tmp_path / "false")
    assert native.keys() == eager.keys()
    assert max(_relative(native[k], eager[k]) for k in native) <= 1e-12
    metrics = [json.loads((tmp_path / m / "metrics.json").read_text()) for m in ("native", "false")]
    assert metrics[0]["val/acc"] == metrics[1]["val/acc"]
    assert metrics[0]["train/loss"] == pytest.approx(metrics[1]["train/loss"], rel=1e-12)


@needs_program
def test_a_native_run_resumed_ends_bit_identical_to_uninterrupted(tmp_path):
    common = [*QUICK, "model.hidden=[4,2]", "model.activation=tanh", "trainer.compile=native",
              "optimizer=adam", "data.batch_size=10"]  # fmt: skip
    whole, part = tmp_path / "whole", tmp_path / "part"
    run([*common, "trainer.max_epochs=6", f"hydra.run.dir={whole}"])
    run([*common, "trainer.max_epochs=3", f"hydra.run.dir={part}"])
    run([*common, "trainer.max_epochs=6", "ckpt_path=last", f"hydra.run.dir={part}"])
    a, b = _final(whole), _final(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_without_a_compiler_the_run_trains_eagerly_with_one_line(tmp_path):
    common = [*QUICK, "model.hidden=[4,2]", "trainer.max_epochs=2", "trainer.compile=auto"]
    env = {"CXX": "/nonexistent/c++", "NNKIT_CACHE_DIR": str(tmp_path / "cache")}
    done = cli("nnkit.train", *common, f"hydra.run.dir={tmp_path / 'a'}", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if "runs eagerly" in line]
    assert len(lines) == 1 and lines[0].startswith("nnkit.train: warning: trainer.compile=auto")
    assert "the C++ compiler '/nonexistent/c++' does not run" in lines[0]
    assert not (tmp_path / "cache" / "native").exists() or not list(
        (tmp_path / "cache" / "native").glob("*.so")
    )
    eager = cli("nnkit.train", *common, "trainer.compile=false", f"hydra.run.dir={tmp_path / 'b'}")
    assert eager.returncode == 0, eager.stderr[-2000:]
    a, b = _final(tmp_path / "a"), _final(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the eager step, bit for bit


@needs_program
def test_the_program_is_built_once_into_the_cache_and_reused(tmp_path):
    env = {**os.environ, "NNKIT_CACHE_DIR": str(tmp_path)}
    code = (
        "import time; from nnkit.native.build import load, library_path, compiler; "
        "start = time.perf_counter(); load(); "
        "print(library_path(compiler()), time.perf_counter() - start)"
    )
    done = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    assert all(d.returncode == 0 for d in done), done[0].stderr[-2000:]
    (built, cold), (again, warm) = (d.stdout.split() for d in done)
    path = Path(built)
    assert again == built and float(warm) < float(cold)  # loaded, not compiled again
    assert path.parent == tmp_path / "native" and path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left

"""Learning-rate schedules: torch's schedulers by name, stepped per step or per epoch on every
path — the native program takes the rates they give — and refused in one line when wrong."""

from __future__ import annotations

import pytest
import torch

from nnkit.errors import USER_ERRORS
from nnkit.losses import build_loss
from nnkit.models import MLP
from nnkit.native.build import unavailable_reason
from nnkit.optimizers.schedulers import SCHEDULERS
from nnkit.train import run
from nnkit.training.engine import Engine
from nnkit.training.schedule import Schedule
from tests.helpers import main_exit

native = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
PER_STEP = {"name": "warmup_cosine", "interval": "step", "warmup": 7, "eta_min": 1e-4}


def _engine(path: str, optimizer: dict, scheduler: dict, replicas: int = 1) -> Engine:
    torch.manual_seed(5)
    net = MLP(2, 1, hidden=[5, 3], activation="tanh").double()
    engine = Engine(net, build_loss("mse"), "binary", 1, optimizer, None, scheduler, (6, 24))
    engine.start(setting=path)
    assert engine.path == ("native" if path == "native" else "direct")
    return engine


@native
@pytest.mark.parametrize(
    "optimizer", [{"name": "sgd", "lr": 0.3, "momentum": 0.9}, {"name": "adamw", "lr": 0.05}]
)
@pytest.mark.parametrize("scheduler", [PER_STEP, {"name": "exponential", "gamma": 0.7}])
def test_the_native_program_takes_the_rate_the_schedule_gives_at_each_step(optimizer, scheduler):
    """The same minibatches through the eager step (torch's optimizer reads the rate the
    scheduler set before each step) and the native program (a call's rates given ahead): the
    weights to 1e-12, the rates and the schedulers' states equal."""
    eager, program = (_engine(path, optimizer, scheduler) for path in ("false", "native"))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(24, 2, generator=g, dtype=torch.float64)
    y = (x.norm(dim=1, keepdim=True) < 1).double()
    for epoch in range(6):
        for engine in (eager, program):
            engine.train([(x[i : i + 6], y[i : i + 6]) for i in range(0, 24, 6)])
            engine.schedule.epoch_ended({})
        assert eager.schedule.lr == program.schedule.lr, epoch
    for a, b in zip(eager.net.parameters(), program.net.parameters(), strict=True):
        assert float(((a - b).abs() / b.abs().clamp_min(1e-12)).max()) <= 1e-12
    assert eager.schedule.state() == program.schedule.state()
    assert eager.schedule.lr != optimizer["lr"]


def test_each_built_in_schedule_moves_the_rate_as_its_torch_scheduler_does():
    """Every registry entry, built for a run of 20 intervals, against torch's class made by
    hand with the same numbers."""
    from torch.optim import lr_scheduler as torch_schedulers

    by_hand = {
        "step": lambda o: torch_schedulers.StepLR(o, 30, 0.1),
        "multistep": lambda o: torch_schedulers.MultiStepLR(o, [50, 75], 0.1),
        "exponential": lambda o: torch_schedulers.ExponentialLR(o, 0.95),
        "cosine": lambda o: torch_schedulers.CosineAnnealingLR(o, 20),
        "linear_warmup": lambda o: torch_schedulers.LinearLR(o, 0.1, 1.0, 5),
    }
    for name in [*by_hand, "none", "warmup_cosine", "plateau"]:
        ours, theirs = (torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0) for _ in "ab")
        schedule = Schedule.build({"name": name}, ours, epochs=20, steps=0)
        reference = by_hand[name](theirs) if name in by_hand else None
        rates = []
        for _ in range(100):
            rates.append(schedule.lr)
            schedule.epoch_ended({"val/loss": 1.0})
            if reference is not None:
                reference.step()
                assert schedule.lr == pytest.approx(theirs.param_groups[0]["lr"], rel=1e-12)
        assert (name == "none") == (len(set(rates)) == 1), name
    warm = _rates("warmup_cosine", 20)
    assert warm[0] == pytest.approx(0.1) and max(warm) == pytest.approx(1.0)
    assert warm[19] == pytest.approx(0.0, abs=0.03) and warm.index(max(warm)) == 5
    plateau = _rates("plateau", 20)
    assert plateau[:12] == [1.0] * 12 and plateau[12] == pytest.approx(0.1)  # 11 > patience 10


def _rates(name: str, epochs: int) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    schedule = Schedule.build({"name": name}, optimizer, epochs=epochs, steps=0)
    rates = []
    for _ in range(epochs):
        rates.append(schedule.lr)
        schedule.epoch_ended({"val/loss": 1.0})
    return rates


@pytest.mark.parametrize(
    "override, message",
    [
        ("scheduler=cosin", "unknown scheduler option 'cosin' — did you mean 'cosine'?"),
        ("scheduler.interval=steps", "scheduler.interval='steps' is not valid — did you mean"),
        ("scheduler.gamma=0", "scheduler.gamma=0 is out of range"),
        ("scheduler.step_size=1.5", "scheduler.step_size=1.5 should be an integer"),
        ("+scheduler.T_max=5", "T_max"),
    ],
)
def test_a_bad_schedule_is_refused_in_one_line_before_any_run(
    tmp_path, monkeypatch, capsys, override, message
):
    args = ["scheduler=step", override] if "scheduler." in override else [override]
    argv = ["data=xor", "data.n=50", *args, f"hydra.run.dir={tmp_path / 'run'}"]
    code, err = main_exit(argv, monkeypatch, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_plateau_follows_a_validation_so_it_steps_per_epoch_only(tmp_path):
    with pytest.raises(USER_ERRORS) as error:
        run(["scheduler=plateau", "scheduler.interval=step", f"hydra.run.dir={tmp_path}"])
    assert "scheduler=plateau: it follows a validation" in str(error.value)
    with pytest.raises(USER_ERRORS) as error:
        run(["data=xor", "data.n=50", "trainer.max_epochs=2", "scheduler=plateau",
             "scheduler.monitor=val/accuracy", f"hydra.run.dir={tmp_path / 'b'}"])  # fmt: skip
    assert "unknown scheduler.monitor 'val/accuracy' — did you mean 'val/acc'?" in str(error.value)
    assert not (tmp_path / "b").exists()


def test_the_registry_lists_the_schedules_the_configs_offer():
    from importlib.resources import files

    folder = files("nnkit.conf").joinpath("scheduler")
    offered = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.suffix == ".yaml")
    assert offered == SCHEDULERS.names()

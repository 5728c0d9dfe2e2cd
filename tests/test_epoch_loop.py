"""The engine's epoch loop: whole data epochs without Lightning's loop, and what users rely on
kept — the metrics torchmetrics gives, the weights Lightning's loop trains, data epochs counted
by max_epochs, early stopping and checkpoints."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
import torchmetrics

from nnkit.losses import build_loss
from nnkit.models import MLP
from nnkit.native.build import unavailable_reason
from nnkit.train import run
from nnkit.training.engine import Engine
from nnkit.training.epoch_loop import EpochLoop, Watch
from nnkit.training.epoch_metrics import split_metrics
from tests.helpers import scalar_series

native = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


def test_multiclass_accuracy_is_torchmetrics_value_with_absent_classes():
    generator = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 4, (3, 40), generator=generator)
    target = torch.randint(0, 3, (3, 40), generator=generator)  # class 4 only ever predicted
    target[1] = 0  # one epoch with a single class among the targets
    found = split_metrics("multiclass", preds, target)["acc"]
    metric = torchmetrics.Accuracy(task="multiclass", num_classes=5)
    expected = torch.stack([metric(p, t) for p, t in zip(preds, target, strict=True)])
    torch.testing.assert_close(found, expected)


def test_binary_and_regression_metrics_are_torchmetrics_values():
    generator = torch.Generator().manual_seed(1)
    preds, target = (
        torch.rand(2, 30, 1, generator=generator),
        torch.rand(2, 30, 1, generator=generator),
    )
    found = split_metrics("regression", preds, target)
    mse = [torchmetrics.MeanSquaredError()(p, t) for p, t in zip(preds, target, strict=True)]
    r2 = [
        torchmetrics.R2Score()(p.squeeze(1), t.squeeze(1))
        for p, t in zip(preds, target, strict=True)
    ]
    torch.testing.assert_close(found["mse"], torch.stack(mse))
    torch.testing.assert_close(found["r2"], torch.stack(r2))
    labels = (preds > 0.5).long()
    binary = split_metrics("binary", labels, (target > 0.5).long())["acc"]
    accuracy = torchmetrics.Accuracy(task="binary")
    torch.testing.assert_close(
        binary,
        torch.stack([accuracy(p, t) for p, t in zip(labels, (target > 0.5).long(), strict=True)]),
    )


def _loop(
    optimizer: dict, loss: str = "mse", dtype: torch.dtype = torch.float64, scheduler=None
) -> EpochLoop:
    torch.manual_seed(3)
    net = MLP(2, 1, hidden=[4, 2], activation="tanh").to(dtype)
    engine = Engine(net, build_loss(loss), "binary", 1, optimizer, None, scheduler, (8, 32))
    engine.start(setting="native" if unavailable_reason() is None else "false")
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(53, 2, generator=generator, dtype=dtype)
    y = (x.norm(dim=1, keepdim=True) < 1).to(dtype)
    return EpochLoop(engine, (x[:40], y[:40]), (x[40:], y[40:]), batch_size=10, seed=7)


SGD, ADAM = {"name": "sgd", "lr": 0.05, "momentum": 0.9}, {"name": "adam", "lr": 0.01}
SCHEDULES = {  # each kind of schedule the epoch loop plans: none, per epoch, per step, watching
    "none": None,
    "step per epoch": {"name": "step", "interval": "epoch", "step_size": 2, "gamma": 0.5},
    "warmup_cosine per step": {"name": "warmup_cosine", "interval": "step", "warmup": 6},
    "plateau": {"name": "plateau", "monitor": "train/loss", "mode": "max", "patience": 0},
}


@native
@pytest.mark.parametrize(
    "optimizer, schedule",
    [(SGD, "none"), (ADAM, "none"), (SGD, "step per epoch"), (ADAM, "warmup_cosine per step"),
     (ADAM, "plateau")],
)  # fmt: skip
def test_the_programs_several_epochs_are_the_epochs_one_by_one_bit_for_bit(optimizer, schedule):
    make = lambda: _loop(optimizer, scheduler=SCHEDULES[schedule])  # noqa: E731
    one_by_one, at_once = make(), make()
    for loop in (one_by_one, at_once):
        loop.epoch(0)  # the optimizer's state is made by torch's first step
    singles = [one_by_one.epoch(k) for k in range(1, 6)]
    several: list = []
    while len(several) < 5:  # plateau's calls take one epoch each: it waits for the metric
        several += at_once.epochs(1 + len(several), 5 - len(several)) or []
    for single, joint in zip(singles, several, strict=True):
        assert torch.equal(single.losses, joint.losses)
        assert single.values == pytest.approx(joint.values, rel=1e-12)
    for a, b in zip(
        one_by_one.engine.net.parameters(), at_once.engine.net.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    lrs = [s.values["train/lr"] for s in singles]
    assert schedule == "none" or len(set(lrs)) > 1  # the rate moved
    rewound = make()
    rewound.epoch(0)
    for k in range(1, 3):
        rewound.epoch(k)
    at_once.state_after(several[1]).put()
    assert at_once.engine.schedule.state() == rewound.engine.schedule.state()
    after = [*rewound.engine.net.parameters()]
    assert all(
        torch.equal(a, b) for a, b in zip(after, at_once.engine.net.parameters(), strict=True)
    )
    states = [s for opt in (rewound, at_once) for s in [opt.engine.optimizer.state_dict()["state"]]]
    for key, value in states[0].items():
        for name, tensor in value.items():
            assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(states[1][key][name]))


@native
def test_a_signals_byte_ends_the_programs_call_after_the_epoch_under_way():
    stopped, whole = _loop({"name": "adam", "lr": 0.01}), _loop({"name": "adam", "lr": 0.01})
    for loop in (stopped, whole):
        loop.epoch(0)
    read, write = os.pipe()
    try:
        os.write(write, bytes([signal.SIGTERM]))  # what Python's handler writes as it arrives
        ran = stopped.epochs(1, 50, stop_fd=read)
    finally:
        os.close(read), os.close(write)
    assert ran is not None and len(ran) == 1
    (alone,) = whole.epochs(1, 1) or []
    assert torch.equal(ran[0].losses, alone.losses)
    for a, b in zip(stopped.engine.net.parameters(), whole.engine.net.parameters(), strict=True):
        assert torch.equal(a, b)
    states = (loop.engine.optimizer.state_dict()["state"] for loop in (stopped, whole))
    assert all(torch.equal(a["step"], b["step"]) for a, b in zip(*(s.values() for s in states)))


def test_watch_keeps_the_first_best_and_stops_at_patience_or_a_non_finite_value():
    watch = Watch("val/loss", "min", patience=3)
    assert [watch.update(v, k) for k, v in enumerate([1.0, 0.5, 0.5, 0.7])] == [
        True,
        True,
        False,
        False,
    ]
    assert not watch.stopped and watch.best_epoch == 1
    watch.update(float("nan"), 4)
    assert watch.stopped
    resumed = Watch("val/loss", "min", patience=3)
    resumed.load(watch.state())
    assert resumed == watch


LOOP_RUN = [
    "data=circular", "data.n=200", "data.batch_size=10", "model.hidden=[4,2]",
    "model.activation=tanh", "optimizer=adam", "optimizer.lr=0.05", "trainer.max_epochs=400",
    "trainer.early_stopping_patience=12", "trainer.log_every_n_steps=7",
    "logger.name=[tensorboard,csv]", "trainer.progress_bar=none",
    "scheduler=warmup_cosine", "scheduler.interval=step", "scheduler.warmup=5",
]  # fmt: skip


@pytest.fixture(scope="module")
def both_loops(tmp_path_factory) -> dict[str, Path]:
    """One run of the Playground's kind of problem through each epoch loop, stopped early."""
    folder = tmp_path_factory.mktemp("loops")
    for loop in ("engine", "lightning"):
        run([*LOOP_RUN, f"trainer.epoch_loop={loop}", f"hydra.run.dir={folder / loop}"])
    return {loop: folder / loop for loop in ("engine", "lightning")}


def _checkpoint(run_dir: Path, name: str) -> dict:
    return torch.load(run_dir / "checkpoints" / name, weights_only=True)


@pytest.mark.parametrize("name", ["last.ckpt", "best.ckpt"])
def test_the_engines_epoch_loop_trains_and_keeps_what_lightnings_does_bit_for_bit(both_loops, name):
    engine, lightning = (_checkpoint(both_loops[k], name) for k in ("engine", "lightning"))
    assert engine["state_dict"].keys() == lightning["state_dict"].keys()
    for key, value in engine["state_dict"].items():
        assert torch.equal(value, lightning["state_dict"][key]), key
    states = engine["optimizer_states"][0]["state"], lightning["optimizer_states"][0]["state"]
    for index, state in states[1].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(states[0][index][key]), torch.as_tensor(value))
    when = ("epoch", "global_step")
    assert [engine[k] for k in when] == [lightning[k] for k in when]
    assert engine["lr_schedulers"] == lightning["lr_schedulers"]
    groups = (ckpt["optimizer_states"][0]["param_groups"][0]["lr"] for ckpt in (engine, lightning))
    assert len(set(groups)) == 1
    watch = engine["nnkit_epoch_loop"]["watch"]
    if name == "best.ckpt":
        assert engine["nnkit_best"] == {"epoch": watch["best_epoch"], "step": engine["global_step"]}


def test_early_stopping_counts_data_epochs_inside_the_programs_calls(both_loops):
    stopped = _checkpoint(both_loops["engine"], "last.ckpt")
    epochs = stopped["nnkit_epoch_loop"]["epochs_done"]
    assert 13 < epochs < 400  # stopped by patience, after the first call of the program
    assert stopped["epoch"] == epochs - 1
    watch = stopped["nnkit_epoch_loop"]["watch"]
    assert watch["wait"] == 12 and watch["best_epoch"] == epochs - 13


@pytest.mark.parametrize("tag", ["val/acc", "val/loss", "train/loss_epoch", "train/acc"])
def test_every_data_epochs_metrics_reach_tensorboard_as_lightnings_loop_writes_them(
    both_loops, tag
):
    engine, lightning = (scalar_series(both_loops[k] / "tensorboard", tag) for k in both_loops)
    epochs = _checkpoint(both_loops["engine"], "last.ckpt")["epoch"] + 1
    per_epoch = 14  # 140 training rows in minibatches of 10
    assert [step for step, _ in engine] == [per_epoch * (e + 1) for e in range(epochs)]
    assert [v for _, v in engine] == pytest.approx([v for _, v in lightning], rel=1e-5, abs=1e-7)
    epoch_of = dict(scalar_series(both_loops["engine"] / "tensorboard", "epoch"))
    assert [epoch_of[step] for step, _ in engine] == list(range(epochs))  # the test's row aside


def test_the_rate_each_epoch_starts_at_is_torchs_schedule_step_by_step(both_loops):
    """The warm-up then the cosine, stepped after every optimizer step, as a plain torch loop
    steps torch's own schedulers; logged once a data epoch, at the rate it starts at."""
    param = torch.nn.Parameter(torch.zeros(1))
    sgd = torch.optim.SGD([param], lr=0.05)
    total, warmup, per_epoch = 400 * 14, 5, 14
    rising = torch.optim.lr_scheduler.LinearLR(sgd, 0.1, 1.0, total_iters=warmup)
    falling = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, T_max=total - warmup)
    schedule = torch.optim.lr_scheduler.SequentialLR(sgd, [rising, falling], [warmup])
    expected = []
    for step in range(total):
        if step % per_epoch == 0:
            expected.append(sgd.param_groups[0]["lr"])
        sgd.step()
        schedule.step()
    for loop in both_loops:
        logged = [v for _, v in scalar_series(both_loops[loop] / "tensorboard", "train/lr")]
        assert len(logged) > 13
        assert logged == pytest.approx(expected[: len(logged)], rel=1e-6), loop


def test_step_level_values_and_metrics_csv_rows_follow_the_data_epochs(both_loops):
    engine, lightning = (scalar_series(both_loops[k] / "tensorboard", "train/loss_step")
                         for k in both_loops)  # fmt: skip
    assert [step for step, _ in engine] == [step for step, _ in lightning]
    assert [v for _, v in engine] == pytest.approx([v for _, v in lightning], rel=1e-5)
    norms = [scalar_series(both_loops[k] / "tensorboard", "grad_norm/layers.0.weight")
             for k in both_loops]  # fmt: skip
    assert [v for _, v in norms[0]] == pytest.approx([v for _, v in norms[1]], rel=1e-4)
    rows = {k: _csv_rows(both_loops[k]) for k in both_loops}
    epochs = [int(float(row["epoch"])) for row in rows["engine"] if row.get("val/acc")]
    assert epochs == list(range(len(epochs)))
    accuracy = {k: [float(r["val/acc"]) for r in rows[k] if r.get("val/acc")] for k in rows}
    assert accuracy["engine"] == pytest.approx(accuracy["lightning"], rel=1e-6)


def _csv_rows(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with (run_dir / "csv" / "metrics.csv").open() as file:
        return list(csv.DictReader(file))

"""Training throughput, for ``python -m nnkit.bench``: the same network (2-64-64-1 ReLU, BCE,
Adam 1e-2 on ``circular``) trained, in one process, through:

- ``raw``: a hand-written loop slicing pre-built tensors, fused Adam (the reference, 1.00);
- ``raw-compiled``: the same loop with ``torch.compile(net)``;
- ``nnkit``: ``nnkit.train.run`` with its defaults on (TensorBoard, metrics, checkpoints,
  validation every epoch, ``trainer.compile=auto``);
- ``nnkit-compiled``: the same with ``trainer.compile=true``;
- ``nnkit-backend-torch``: nnkit with torch's built-in ops instead of the hand-derived ones;
- ``lightning``: a plain LightningModule fed by ``DataLoader(TensorDataset)``;
- ``sklearn``: scikit-learn's ``MLPClassifier`` (same layers, Adam, batch size).

Throughput is steady state: each contender trains ``EPOCHS`` epochs and the samples of every
epoch after the first are divided by the time from the end of the first epoch to the end of the
last (nnkit's epoch ends are read from its own TensorBoard events), so start-up, compilation and
the end of a run cancel while per-epoch work counts. Contenders are interleaved and the median
of ``repeats`` is reported, with the arithmetic rate it stands for (``machine``).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnkit.bench.machine import step_flops_per_sample
from nnkit.data.dataset import DATASETS

CASES = {"circular-200k-b1024": (200_000, 1024), "circular-20k-b32": (20_000, 32)}
EPOCHS = 4  # three epoch-to-epoch intervals per measurement
WIDTHS = (2, 64, 64, 1)
QUICK_LOOK = 0.01  # below this data scale, no warm-up runs: a look at the code paths, not rates


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )


def raw_loop(n: int, batch: int, epochs: int, compiled: bool = False) -> list[float]:
    """The hand-written loop (with ``torch.compile(net)`` if ``compiled``); the clock at the
    end of every epoch."""
    x, y = DATASETS.get("circular")(n=n).train
    torch.manual_seed(0)
    net = _net()
    if compiled:
        torch._dynamo.reset()  # each run compiles afresh, as a new program would
    forward = torch.compile(net) if compiled else net
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()
    ends = []
    for _ in range(epochs):
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for i in range(0, len(x), batch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(forward(xs[i : i + batch]), ys[i : i + batch])
            loss.backward()
            optimizer.step()
        ends.append(time.perf_counter())
    return ends


def nnkit_run(n: int, batch: int, epochs: int, extra: Sequence[str] = ()) -> list[float]:
    """``nnkit.train.run`` with default settings on the circle; the end of every epoch."""
    circle = ["data=circular", f"data.n={n}", f"data.batch_size={batch}", "model.hidden=[64,64]"]
    return epoch_ends([*circle, f"trainer.max_epochs={epochs}", *extra])


def epoch_ends(overrides: Sequence[str]) -> list[float]:
    """``nnkit.train.run(overrides)``; the end of every training epoch (after its validation,
    checkpoints and logging), read from the wall times of the run's TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nnkit.training.job import run

    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        run([*overrides, f"hydra.run.dir={folder}"])
        ends = []
        for events in Path(folder, "tensorboard").glob("events.out.tfevents.*"):
            accumulator = EventAccumulator(str(events))
            accumulator.Reload()
            if "train/lr" in accumulator.Tags()["scalars"]:
                ends += [event.wall_time for event in accumulator.Scalars("train/lr")]
        return sorted(ends)


def lightning_dataloader(n: int, batch: int, epochs: int) -> list[float]:
    """Plain Lightning over a DataLoader, as users write it by default; epoch ends."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    class Plain(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss = _net(), nn.BCEWithLogitsLoss()

        def training_step(self, b, i):
            return self.loss(self.net(b[0]), b[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            self.ends.append(time.perf_counter())

    x, y = DATASETS.get("circular")(n=n).train
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    clock = Clock()
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(Plain(), loader)
    return clock.ends


def sklearn_mlp(n: int, batch: int, epochs: int) -> list[float]:
    """scikit-learn's ``MLPClassifier`` on the same network and optimizer, one epoch per
    ``partial_fit``; epoch ends."""
    import warnings

    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = DATASETS.get("circular")(n=n).train
    model = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        solver="adam",
        learning_rate_init=1e-2,
        batch_size=batch,
        random_state=0,
    )
    ends = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            model.partial_fit(x.numpy(), y.numpy().ravel(), classes=[0.0, 1.0])
            ends.append(time.perf_counter())
    return ends


def steady_rate(
    fn: Callable[[int, int, int], list[float]], n: int, batch: int, epochs: int
) -> float:
    """Training samples per second from the end of the first epoch to the end of the last:
    per-epoch work (validation, checkpoints, logging) counts; start-up and what a run does
    once at its end (test, figures) do not."""
    ends = fn(n, batch, epochs)
    if len(ends) < 2 or ends[-1] <= ends[0]:
        return float("nan")
    return (len(ends) - 1) * round(0.7 * n) / (ends[-1] - ends[0])


CONTENDERS: dict[str, Callable[[int, int, int], list[float]]] = {
    "raw": raw_loop,
    "raw-compiled": lambda n, b, e: raw_loop(n, b, e, compiled=True),
    "nnkit": nnkit_run,
    "nnkit-compiled": lambda n, b, e: nnkit_run(n, b, e, ["trainer.compile=true"]),
    "nnkit-backend-torch": lambda n, b, e: nnkit_run(n, b, e, ["model.backend=torch"]),
    "lightning": lightning_dataloader,
    "sklearn": sklearn_mlp,
}


def measure(
    repeats: int,
    scale: float,
    machine_gflops: float,
    contenders: dict[str, Callable[[int, int, int], list[float]]] = CONTENDERS,
) -> dict[str, dict[str, float]]:
    """Median samples/s of every contender in every case, interleaved; each as a ratio to the
    hand-written loop and as GFLOP/s of matrix products, also as a share of the machine's."""
    torch.set_num_threads(1)
    flops = step_flops_per_sample(WIDTHS)
    results: dict[str, dict[str, float]] = {}
    for case, (n, batch) in CASES.items():
        n = max(int(n * scale), 4 * batch)
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values() if scale >= QUICK_LOOK else ():
            fn(4 * batch, batch, 2)  # imports, compilation, first calls: outside the timings
        for _ in range(repeats):
            for name, fn in contenders.items():
                rates[name].append(steady_rate(fn, n, batch, EPOCHS))
        medians = {name: statistics.median(values) for name, values in rates.items()}
        results[case] = {
            **{f"{k} samples/s": v for k, v in medians.items()},
            **{f"{k} / raw": v / medians["raw"] for k, v in medians.items()},
            **{f"{k} GFLOP/s": v * flops / 1e9 for k, v in medians.items()},
            "nnkit share of the machine's matmul rate": medians["nnkit"] * flops / 1e9
            / machine_gflops,
        }  # fmt: skip
    return results


def compile_seconds(repeats: int = 1) -> dict[str, float]:
    """What ``trainer.compile=true`` adds to a run started afresh (torch's on-disk cache warm
    after the first): the wall time of ``python -m nnkit.train data=circular`` for 2 epochs,
    compiled minus eager, medians of ``repeats``."""
    import subprocess
    import sys

    def wall(extra: list[str], folder: str) -> float:
        command = [sys.executable, "-m", "nnkit.train", "data=circular", "trainer.max_epochs=2",
                   f"hydra.run.dir={folder}/run", *extra]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        wall(["trainer.compile=true"], folder + "/warm")  # fills torch's cache if it is cold
        pairs = [(wall([], f"{folder}/e{i}"), wall(["trainer.compile=true"], f"{folder}/c{i}"))
                 for i in range(repeats)]  # fmt: skip
    return {"compile s (warm cache)": statistics.median(c - e for e, c in pairs)}

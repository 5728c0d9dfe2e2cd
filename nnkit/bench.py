"""``python -m nnkit.bench``: nnkit against a hand-written PyTorch loop, in one process.

Each case trains the same network (2-64-64-1 ReLU, BCE, Adam 1e-2 on ``circular``) through:

- ``raw``: a hand-written loop slicing pre-built tensors, fused Adam (the reference, 1.00);
- ``nnkit``: ``nnkit.train.run`` with its defaults on (TensorBoard, metrics, progress bar);
- ``lightning``: a plain LightningModule fed by ``DataLoader(TensorDataset)``;
- ``nnkit-backend-torch``: nnkit with torch's built-in ops instead of the hand-derived ones;
- ``sklearn``: scikit-learn's ``MLPClassifier`` (same layers, Adam, batch size).

End to end (``nnkit.bench_e2e``), the main job (``python -m nnkit.train``, defaults on) is
timed from process start to exit, with its peak resident memory, against a plain PyTorch script
and a minimal Hydra + Lightning app training the same 7-32-10 network for the same 100 steps.

Throughput is steady state: each contender trains ``EPOCHS`` epochs and the samples of every
epoch after the first are divided by the time from the end of the first epoch to the end of the
last (nnkit's epoch ends are read from its own TensorBoard events), so start-up and the end of
a run cancel while per-epoch work counts. Contenders are interleaved and the median of
``repeats`` is reported. Results go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnkit.data.dataset import DATASETS

CASES = {"circular-200k-b1024": (200_000, 1024), "circular-20k-b32": (20_000, 32)}
EPOCHS = 4  # three epoch-to-epoch intervals per measurement


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )


def raw_loop(n: int, batch: int, epochs: int) -> list[float]:
    """The hand-written loop; the clock at the end of every epoch."""
    x, y = DATASETS.get("circular")(n=n).train
    torch.manual_seed(0)
    net = _net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()
    ends = []
    for _ in range(epochs):
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for i in range(0, len(x), batch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xs[i : i + batch]), ys[i : i + batch])
            loss.backward()
            optimizer.step()
        ends.append(time.perf_counter())
    return ends


def nnkit_run(n: int, batch: int, epochs: int, extra: Sequence[str] = ()) -> list[float]:
    """``nnkit.train.run`` with default settings; the end of every training epoch (after its
    validation, checkpoints and logging), read from the wall times of the TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nnkit.train import run

    with tempfile.TemporaryDirectory() as folder:
        run(
            [
                "data=circular",
                f"data.n={n}",
                f"data.batch_size={batch}",
                "model.hidden=[64,64]",
                f"trainer.max_epochs={epochs}",
                f"hydra.run.dir={folder}",
                *extra,
            ]
        )
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


def measure(repeats: int, scale: float) -> dict[str, dict[str, float]]:
    """Median samples/s of every contender in every case, interleaved."""
    torch.set_num_threads(1)
    contenders = {
        "raw": raw_loop,
        "nnkit": nnkit_run,
        "lightning": lightning_dataloader,
        "nnkit-backend-torch": lambda n, b, e: nnkit_run(n, b, e, ["model.backend=torch"]),
        "sklearn": sklearn_mlp,
    }
    results: dict[str, dict[str, float]] = {}
    for case, (n, batch) in CASES.items():
        n = max(int(n * scale), 4 * batch)
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values():  # imports and first-call costs, outside the timings
            fn(4 * batch, batch, 2)
        for _ in range(repeats):
            for name, fn in contenders.items():
                rates[name].append(steady_rate(fn, n, batch, EPOCHS))
        medians = {name: statistics.median(values) for name, values in rates.items()}
        results[case] = {
            **{f"{k} samples/s": v for k, v in medians.items()},
            **{f"{k} / raw": v / medians["raw"] for k, v in medians.items()},
        }
    return results


def format_results(results: dict[str, dict[str, float]]) -> str:
    lines = []
    for case, row in results.items():
        lines.append(case)
        lines += [f"  {k:34s} {v:12.3f}" for k, v in row.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nnkit.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (tests: tiny)")
    parser.add_argument("--out", default="bench.json")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the CLI timing")
    parser.add_argument("--no-replicas", action="store_true", help="skip the many-seeds case")
    args = parser.parse_args(argv)
    results = measure(args.repeats, args.scale)
    if not args.no_replicas:
        from nnkit.bench_replicas import Case, measure_replicas

        small = args.scale < 0.1  # a quick look: few seeds, few steps
        case = Case(copies=4, epochs=2) if small else Case()
        seeds = 3 if small else 20
        results["replicas 7-4-10"] = measure_replicas(case, seeds, many=10 * seeds)
    if not args.no_end_to_end:
        from nnkit.bench_e2e import measure_end_to_end

        results["end-to-end seven_segment"] = measure_end_to_end(args.repeats)
    print(format_results(results))
    with open(args.out, "w") as file:
        json.dump({"machine": machine(), "results": results}, file, indent=2)
    return 0


def machine() -> dict[str, str]:
    import os
    import platform

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    sys.exit(main())

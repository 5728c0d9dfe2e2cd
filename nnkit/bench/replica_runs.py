"""Many seeds at once, for ``python -m nnkit.bench``: the article's 7-4-10 digit network,
trained for the same number of steps from every seed, four ways in one process:

- ``replicas``: one nnkit run with ``trainer.replicas=N`` (defaults on);
- ``multirun``: N nnkit runs one after another, one per seed — what ``-m seed=0,...`` runs;
- ``loops``: N hand-written PyTorch loops (``nn.Sequential``, cross-entropy, Adam);
- ``sklearn``: N ``MLPClassifier`` fits (same layers, Adam, batch size).

and two ways through the command line, each a process timed from start to exit:
``python -m nnkit.train trainer.replicas=N`` against ``python -m nnkit.train -m
'seed=range(0,N)'`` (Hydra's multirun: the N runs one after another in one process).

The data is the ten digits with noisy copies (``data.copies``), so that an epoch has many
steps of 10 samples each, as a fixed number of steps needs.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from nnkit.bench.machine import step_flops_per_sample
from nnkit.data.dataset import DATASETS


@dataclass(frozen=True)
class Case:
    """The digits with ``copies`` noisy copies each (epochs of ``10 * (copies + 1) / 10``
    steps), trained for ``epochs`` epochs."""

    copies: int = 199  # 2000 training samples: 200 steps of 10 per epoch
    epochs: int = 10  # 2000 optimizer steps in all

    def args(self) -> list[str]:
        return [
            "model.hidden=[4]",
            f"data.copies={self.copies}",
            "data.noise=0.05",
            f"trainer.max_epochs={self.epochs}",
        ]

    def steps(self) -> int:
        return (self.copies + 1) * self.epochs  # 10 samples a step, 10 (copies + 1) samples

    def data(self):
        return DATASETS.get("seven_segment")(copies=self.copies, noise=0.05).train


def _each(one: Callable[[int], None], seeds: int) -> None:
    for seed in range(seeds):
        one(seed)


def _seconds(fn: Callable[[], object]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


def nnkit_replicas(case: Case, seeds: int) -> float:
    from nnkit.training.job import run

    with tempfile.TemporaryDirectory() as folder:
        args = [*case.args(), f"trainer.replicas={seeds}", f"hydra.run.dir={folder}"]
        return _seconds(lambda: run(args))


def nnkit_multirun(case: Case, seeds: int) -> float:
    from nnkit.training.job import run

    with tempfile.TemporaryDirectory() as folder:
        line = [*case.args()]
        return _seconds(
            lambda: [run([*line, f"seed={s}", f"hydra.run.dir={folder}/{s}"]) for s in range(seeds)]
        )


def hand_loops(case: Case, seeds: int) -> float:
    x, y = case.data()

    def one(seed: int) -> None:
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(7, 4), nn.ReLU(), nn.Linear(4, 10))
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01, fused=True)
        for _ in range(case.epochs):
            order = torch.randperm(len(x))
            xs, ys = x[order], y[order]
            for i in range(0, len(x), 10):
                optimizer.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(net(xs[i : i + 10]), ys[i : i + 10]).backward()
                optimizer.step()

    return _seconds(lambda: _each(one, seeds))


def sklearn_fits(case: Case, seeds: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = case.data()

    def one(seed: int) -> None:
        model = MLPClassifier(
            hidden_layer_sizes=(4,), learning_rate_init=0.01, batch_size=10,
            max_iter=case.epochs, tol=0.0, n_iter_no_change=10**9, random_state=seed,
        )  # fmt: skip
        model.fit(x.numpy(), y.numpy())

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _seconds(lambda: _each(one, seeds))


def cli_seconds(case: Case, seeds: int) -> dict[str, float]:
    """Wall seconds of the two command lines: N replicas in one run, N seeds as a multirun."""
    with tempfile.TemporaryDirectory() as folder:
        train = [sys.executable, "-m", "nnkit.train"]

        def wall(command: list[str]) -> float:
            start = time.perf_counter()
            subprocess.run(command, cwd=folder, check=True, capture_output=True)
            return time.perf_counter() - start

        replicas = wall([*train, *case.args(), f"trainer.replicas={seeds}", "hydra.run.dir=r"])
        seeds_range = f"seed=range(0,{seeds})"
        multirun = wall([*train, "-m", *case.args(), seeds_range, "hydra.sweep.dir=m"])
    return {
        f"cli replicas s ({seeds} seeds)": replicas,
        f"cli multirun s ({seeds} seeds)": multirun,
        "cli replicas speed-up over multirun": multirun / replicas,
    }


def measure_replicas(
    case: Case,
    seeds: int = 20,
    many: int = 200,
    machine_gflops: float = float("nan"),
    warm_up: bool = True,
) -> dict[str, float]:
    """Seconds for ``seeds`` seeds each way, the speed-ups of replicas, and the cost per seed
    of ``many`` replicas beside the arithmetic a seed needs (``warm_up``: imports and first
    calls paid by an untimed run first)."""
    torch.set_num_threads(1)
    if warm_up:
        nnkit_replicas(Case(copies=0, epochs=1), 2)
    times = {
        "replicas": nnkit_replicas(case, seeds),
        "multirun": nnkit_multirun(case, seeds),
        "loops": hand_loops(case, seeds),
        "sklearn": sklearn_fits(case, seeds),
    }
    per_seed_many = nnkit_replicas(case, many) / many
    seed_gflop = case.steps() * 10 * step_flops_per_sample([7, 4, 10]) / 1e9
    return {
        **{f"{k} s ({seeds} seeds)": v for k, v in times.items()},
        "replicas speed-up over multirun": times["multirun"] / times["replicas"],
        "replicas speed-up over loops": times["loops"] / times["replicas"],
        "replicas speed-up over sklearn": times["sklearn"] / times["replicas"],
        f"replicas ms per seed ({seeds} seeds)": 1000 * times["replicas"] / seeds,
        f"replicas ms per seed ({many} seeds)": 1000 * per_seed_many,
        "matmul GFLOP per seed": seed_gflop,
        "ms per seed at the machine's matmul rate": 1000 * seed_gflop / machine_gflops,
        **cli_seconds(case, seeds),
    }

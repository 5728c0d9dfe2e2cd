"""What every claim script shares: sizes, nnkit runs, statistics, figures and report sections.

Only nnkit's public API is used: ``nnkit.train.run``, ``nnkit.load_model``, the registries and
the ``build_*`` helpers.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import nnkit
from nnkit.train import run

QUIET = ["trainer.progress_bar=none", "logger=none"]


@dataclass(frozen=True)
class Size:
    """How big the experiments are: ``full`` for the report, ``tiny`` for the test."""

    seeds: int
    epochs: float  # multiplies every epoch count
    sweep_seeds: int  # seeds for the 7-segment reliability study

    def epochs_of(self, full: int) -> int:
        return max(1, round(full * self.epochs))


FULL = Size(seeds=5, epochs=1.0, sweep_seeds=20)
TINY = Size(seeds=2, epochs=0.05, sweep_seeds=3)


@dataclass
class Section:
    """One claim of the article, as the report shows it."""

    number: int
    title: str
    claim: str
    setup: str
    result: str
    verdict: str
    table: list[list[str]] = field(default_factory=list)
    figure: str = ""
    command: str = ""

    def markdown(self) -> str:
        lines = [
            f"## {self.number}. {self.title}",
            "",
            f"**Claim.** {self.claim}",
            "",
            f"**Setup.** {self.setup}",
            "",
        ]
        if self.command:
            lines += ["Rerun from the command line:", "", "```bash", self.command, "```", ""]
        if self.table:
            header, *rows = self.table
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(row) + " |" for row in rows] + [""]
        if self.figure:
            lines += [f"![{self.title}](figures/{self.figure})", ""]
        lines += [f"**Result.** {self.result}", "", f"**Verdict.** {self.verdict}", ""]
        return "\n".join(lines)


def train(overrides: Sequence[str], run_dir: Path | None = None) -> dict[str, Any]:
    """``nnkit.train.run`` quietly, in ``run_dir`` (a temporary folder if None)."""
    with contextlib.ExitStack() as stack:
        if run_dir is None:
            run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        with contextlib.redirect_stdout(io.StringIO()):
            return run([*QUIET, *overrides, f"hydra.run.dir={run_dir}"])


def mean_std(values: Sequence[float]) -> str:
    """``mean ± sample standard deviation`` (± 0 for one value)."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def save(figure: plt.Figure, folder: Path, name: str) -> str:
    """Write a small PNG; return its file name."""
    folder.mkdir(parents=True, exist_ok=True)
    figure.savefig(folder / name, dpi=80, bbox_inches="tight")
    plt.close(figure)
    return name


def fit(net: torch.nn.Module, x, y, loss, steps: int, lr: float) -> list[float]:
    """Full-batch Adam for ``steps`` steps; the loss after each (a plain loop, for sweeps of
    many seeds where Lightning's per-run start-up would dominate)."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(net(x), y)
        value.backward()
        optimizer.step()
        history.append(value.item())
    return history


def data(name: str, **params):
    """A registered dataset."""
    return nnkit.DATASETS.get(name)(**params)

"""nnkit's network in a user's own loop, for ``python -m nnkit.bench``: ``loss(net(x))``,
``backward()``, ``step()`` — the whole-network Function under torch's autograd — against the
same loop over ``nn.Sequential`` and torch's loss (2-64-64-1 ReLU, BCE, fused Adam).

Each step is timed as the median of several interleaved runs of ``STEPS`` steps.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from nnkit.losses import build_loss
from nnkit.models import build_model

STEPS = 500


def _loop(net: nn.Module, loss_fn: nn.Module, batch: int) -> Callable[[], None]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 2, generator=generator)
    y = (torch.rand(batch, 1, generator=generator) > 0.5).float()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        optimizer.step()

    return step


def _seconds_per_step(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def measure_autograd(
    repeats: int, batches: tuple[int, ...] = (32, 1024), steps: int = STEPS
) -> dict[str, float]:
    """µs per step of nnkit's MLP + nnkit's BCE and of ``nn.Sequential`` + torch's BCE, each
    under autograd, and their ratio (torch's time over nnkit's: above 1, nnkit is faster)."""
    torch.set_num_threads(1)
    results: dict[str, float] = {}
    for batch in batches:
        torch.manual_seed(0)
        nnkit_net = build_model("mlp", 2, 1, hidden=[64, 64], activation="relu")
        torch.manual_seed(0)
        torch_net = nn.Sequential(
            nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
        )
        loops = {
            "nnkit": _loop(nnkit_net, build_loss("bce"), batch),
            "torch": _loop(torch_net, nn.BCEWithLogitsLoss(), batch),
        }
        times: dict[str, list[float]] = {name: [] for name in loops}
        for step in loops.values():
            _seconds_per_step(step, 20)
        for _ in range(repeats * 3):
            for name, step in loops.items():
                times[name].append(_seconds_per_step(step, steps))
        median = {name: statistics.median(values) for name, values in times.items()}
        results[f"batch {batch} nnkit us/step"] = 1e6 * median["nnkit"]
        results[f"batch {batch} torch us/step"] = 1e6 * median["torch"]
        results[f"batch {batch} torch / nnkit"] = median["torch"] / median["nnkit"]
    return results

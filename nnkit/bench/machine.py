"""What the machine itself can do, measured in the bench's own run: its matrix-product rate,
against which every contender's arithmetic is read, and its description.

A training step of a fully connected network is mostly matrix products: per sample, the
forward pass multiplies every weight once, the backward pass twice (the weight's gradient and
the error carried back), except that no error is carried back to the data.

>>> step_flops_per_sample([2, 64, 64, 1])
25472
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import time
from collections.abc import Sequence

import torch


def step_flops_per_sample(widths: Sequence[int]) -> int:
    """Multiply-adds ×2 of one training step per sample, matrix products only: 2·Σ w_i·w_{i+1}
    forward, as much for the weights' gradients, and as much again for the errors carried back
    to every layer but the first."""
    products = [a * b for a, b in itertools.pairwise(widths)]
    return 2 * (2 * sum(products) + sum(products[1:]))


def matmul_gflops(size: int = 512, repeats: int = 5, threads: int = 1) -> float:
    """The machine's float32 matrix-product rate (GFLOP/s) on ``threads`` threads: the median
    of ``repeats`` timings of a ``size``-square product, each long enough to time."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a.mm(b)  # first-call costs out of the timing
    flops, rates = 2 * size**3, []
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < 0.2:
            a.mm(b)
            count += 1
        rates.append(count * flops / elapsed / 1e9)
    torch.set_num_threads(before)
    return statistics.median(rates)


def machine() -> dict[str, str]:
    """The machine's description for the report."""
    return {
        "cpu": _cpu_name() or platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""

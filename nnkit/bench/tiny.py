"""The article's networks at the machine's speed: ``python -m nnkit.bench`` against the
TensorFlow Playground's way of training.

The Playground's default problem: the circle, 250 training points, a 2-4-2-1 tanh network,
batch 10, learning rate 0.03, squared error, plain SGD; an epoch is 25 steps. Contenders, in
one process and interleaved, medians of the repeats:

- ``playground (node)``: ``playground.js``, written after the Playground's ``src/nn.ts``
  (per-point forward and backpropagation over node and link objects), run by node;
- ``torch autograd``: the plain PyTorch loop (``nn.Sequential``, ``backward()``, ``step()``);
- ``nnkit eager``: nnkit's hand-derived whole-network step, one minibatch per call;
- ``nnkit native``: the native program (``trainer.compile=native``), an epoch per call.

Each row gives epochs (or steps) per second, the microseconds of one optimizer step against
the dispatch floor of one empty torch operation, and the share of the machine's matrix-product
rate that the arithmetic reaches. ``maps`` rows also compute every unit's value on the
100 x 100 grid after each epoch, what a playground draws.

>>> dispatch_floor_us(repeats=200) > 0
True
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import Tensor

from nnkit.bench.playground import node_rate
from nnkit.bench.webassembly import wasm_rate
from nnkit.maths.functions import RELU
from nnkit.maths.loss_functions import cross_entropy_pair, mse_pair
from nnkit.maths.more_functions import TANH
from nnkit.maths.network import network_loss_grads
from nnkit.native.plan import plan_program

Problem = tuple[list[int], Tensor, Tensor, int]  # widths, x, targets, batch size


def dispatch_floor_us(repeats: int = 20_000) -> float:
    """Microseconds of one empty torch operation (an add of two one-element tensors)."""
    a, b = torch.zeros(1), torch.zeros(1)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.add(a, b)
    return (time.perf_counter() - start) / repeats * 1e6


def circle(points: int = 250, seed: int = 1) -> tuple[Tensor, Tensor]:
    """The Playground's circle: half the points inside radius 2.5 (label 1), half in the
    ring 3.5-5 (label -1), scaled to the unit square."""
    g = torch.Generator().manual_seed(seed)
    inside = torch.arange(points) < points // 2
    radius = torch.where(
        inside, 2.5 * torch.rand(points, generator=g), 3.5 + 1.5 * torch.rand(points, generator=g)
    )
    angle = 2 * torch.pi * torch.rand(points, generator=g)
    x = torch.stack([radius * angle.sin(), radius * angle.cos()], 1) / 5
    return x, torch.where(inside, 1.0, -1.0).unsqueeze(1)


def _params(widths: Sequence[int], seed: int = 0) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    params = []
    for a, b in itertools.pairwise(widths):
        params += [(torch.rand(b, a, generator=g) - 0.5), torch.full((b,), 0.1)]
    return params


def grid(size: int = 100) -> Tensor:
    """The picture's points: ``size`` x ``size`` over [-1, 1]²."""
    axis = torch.linspace(-1, 1, size)
    return torch.cartesian_prod(axis, axis)


def _native(problem: Problem, pair=TANH, loss=None, maps: bool = False) -> Callable[[], None]:
    widths, x, t, batch = problem
    params = _params(widths)
    loss = loss or mse_pair("mean")
    program = plan_program((pair,) * (len(widths) - 2), loss, None, widths, 1, torch.float32)
    assert not isinstance(program, str), program
    steps = program.bind(params, torch.optim.SGD(params, lr=0.03))
    offsets = torch.arange(0, len(x) + 1, batch)
    points = grid()

    def epoch() -> None:
        steps.train(x, t, offsets)
        if maps:
            program.maps(params, points)

    return epoch


def _eager(problem: Problem, pair=TANH, loss=None, maps: bool = False) -> Callable[[], None]:
    widths, x, t, batch = problem
    params = _params(widths)
    pairs, loss = (pair,) * (len(widths) - 2), loss or mse_pair("mean")
    batches = list(zip(x.split(batch), t.split(batch)))
    points = grid()

    def epoch() -> None:
        for xb, tb in batches:
            _, _, grads = network_loss_grads(xb, tb, pairs, params, loss)
            torch._foreach_add_(params, grads, alpha=-0.03)
        if maps:
            value = points
            for layer in range(len(pairs)):
                value = pairs[layer].forward(
                    torch.addmm(params[2 * layer + 1], value, params[2 * layer].t())
                )
            torch.addmm(params[-1], value, params[-2].t())

    return epoch


def _autograd(
    problem: Problem, activation=torch.nn.Tanh, classes: bool = False
) -> Callable[[], None]:
    widths, x, t, batch = problem
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers += [torch.nn.Linear(a, b)] + ([activation()] if i < len(widths) - 2 else [])
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.03)
    cost = torch.nn.functional.cross_entropy if classes else torch.nn.functional.mse_loss
    batches = list(zip(x.split(batch), t.split(batch)))

    def epoch() -> None:
        for xb, tb in batches:
            optimizer.zero_grad()
            cost(net(xb), tb).backward()
            optimizer.step()

    return epoch


def _timed(make: Callable[..., Callable[[], None]], seconds: float, *args, **options):
    """A contender: builds its epoch with ``make(*args, **options)``, then times it."""
    return lambda: _rate(make(*args, **options), seconds)


def _rate(epoch: Callable[[], None], seconds: float) -> float:
    """Epochs per second of ``epoch``, run for about ``seconds`` after a warm-up."""
    epoch()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        epoch()
        count += 1
    return count / (time.perf_counter() - start)


def measure_tiny(
    repeats: int = 3, seconds: float = 1.0, peak_gflops: float = 0.0
) -> dict[str, dict[str, float]]:
    """Every contender on the Playground's problem, with and without the pictures, and the
    article's other networks; medians of ``repeats`` interleaved rounds."""
    x, t = circle()
    floor = dispatch_floor_us()
    results: dict[str, dict[str, float]] = {}
    playground: Problem = ([2, 4, 2, 1], x, t, 10)
    for maps in (False, True):
        case = "Playground problem 2-4-2-1 tanh" + (", with the 100x100 maps" if maps else "")
        contenders: dict[str, Callable[[], float | None]] = {
            "playground (node)": partial(node_rate, [2, 4, 2, 1], 100 if maps else 0, seconds),
            "nnkit webassembly (node)": partial(
                wasm_rate, _params([2, 4, 2, 1]), x, t, 10, 100 if maps else 0, seconds
            ),
            "nnkit eager": _timed(_eager, seconds, playground, maps=maps),
            "nnkit native": _timed(_native, seconds, playground, maps=maps),
        }
        if not maps:
            contenders["torch autograd"] = _timed(_autograd, seconds, playground)
        results[case] = _rows(
            contenders, repeats, 25, _flops(playground[0], 250), floor, peak_gflops
        )
        js = results[case].get("playground (node) epochs/s")
        wasm = results[case].get("nnkit webassembly (node) epochs/s")
        if js:
            results[case]["nnkit native / playground"] = results[case]["nnkit native epochs/s"] / js
        if js and wasm:
            results[case]["nnkit webassembly / playground"] = wasm / js
        results[case]["nnkit native / nnkit eager"] = (
            results[case]["nnkit native epochs/s"] / results[case]["nnkit eager epochs/s"]
        )
    results.update(_other_networks(repeats, seconds, floor, peak_gflops))
    results["machine"] = {"dispatch floor µs (one empty torch op)": floor}
    return results


def _other_networks(
    repeats: int, seconds: float, floor: float, peak: float
) -> dict[str, dict[str, float]]:
    """The article's 7-4-10 on the ten digits (ten copies, batch 10), the Playground's largest
    network (6 x 8) and 8 layers of 64, in optimizer steps per second."""
    from nnkit.data.seven_segment import digit_segments

    digits = digit_segments().repeat(10, 1)
    labels = torch.arange(10).repeat(10)
    seven: Problem = ([7, 4, 10], digits, labels, 10)
    results = {}
    ce = cross_entropy_pair("mean")
    results["7-4-10 seven_segment, ReLU, cross-entropy, batch 10"] = _rows(
        {
            "torch autograd": _timed(_autograd, seconds, seven, torch.nn.ReLU, classes=True),
            "nnkit eager": _timed(_eager, seconds, seven, RELU, ce),
            "nnkit native": _timed(_native, seconds, seven, RELU, ce),
        },
        repeats, 10, _flops(seven[0], 100), floor, peak, unit="steps/s",
    )  # fmt: skip
    x, t = circle()
    for widths in ([2, *[8] * 6, 1], [2, *[64] * 8, 1]):
        problem: Problem = (widths, x, t, 10)
        name = f"{len(widths) - 2} hidden layers of {widths[1]}, tanh, batch 10"
        results[name] = _rows(
            {
                "torch autograd": _timed(_autograd, seconds, problem),
                "nnkit eager": _timed(_eager, seconds, problem),
                "nnkit native": _timed(_native, seconds, problem),
            },
            repeats, 25, _flops(widths, 250), floor, peak, unit="steps/s",
        )  # fmt: skip
    for row in results.values():
        row["nnkit native / nnkit eager"] = row["nnkit native steps/s"] / row["nnkit eager steps/s"]
        row["nnkit native / torch autograd"] = (
            row["nnkit native steps/s"] / row["torch autograd steps/s"]
        )
    return results


def _flops(widths: Sequence[int], samples: int) -> float:
    """Floating-point operations of one epoch's arithmetic: forward, backward and update,
    two per multiply-add, three passes over each weight."""
    return 6.0 * samples * sum(a * b for a, b in itertools.pairwise(widths))


def _rows(
    contenders: dict[str, Callable[[], float | None]],
    repeats: int,
    steps_per_epoch: int,
    flops: float,
    floor: float,
    peak: float,
    unit: str = "epochs/s",
) -> dict[str, float]:
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            rate = run()
            if rate is not None:
                rates[name].append(rate)
    row: dict[str, float] = {}
    for name, values in rates.items():
        if not values:
            continue
        epochs = statistics.median(values)
        row[f"{name} {unit}"] = epochs * (steps_per_epoch if unit == "steps/s" else 1)
        step_us = 1e6 / (epochs * steps_per_epoch)
        row[f"{name} µs/step"] = step_us
        row[f"{name} µs/step in dispatch floors"] = step_us / floor
        if peak:
            row[f"{name} share of matmul peak %"] = 100 * epochs * flops / (peak * 1e9)
    return row

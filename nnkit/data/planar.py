"""2-D classification sets, as the TensorFlow Playground draws them: circle, xor, spiral, blobs.

Points lie in the square [-1, 1]²; ``noise`` is the standard deviation of Gaussian jitter added
to the points after they are labelled, so labels near a boundary can fall on the wrong side;
``train_fraction`` of them train, the rest are shared by validation and test.

>>> data = circular(n=200, radius=0.5)
>>> data.task, data.in_features
('binary', 2)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nnkit.data.dataset import DATASETS, TensorData, check_range, check_size, split, train_split


def _check(name: str, n: int, noise: float) -> None:
    check_range(name, "n", n, 0)
    check_size(name, n, 2)
    check_range(name, "noise", noise, 0.0, 1.0, low_inclusive=True)


def _finish(
    name: str, x: Tensor, label: Tensor, noise: float, gen: torch.Generator, seed: int,
    train_fraction: float,
) -> TensorData:  # fmt: skip
    x = x + noise * torch.randn(x.shape, generator=gen)  # (n, 2)
    fractions = train_split(name, train_fraction)
    return split(x, label.float().unsqueeze(-1), "binary", seed, fractions=fractions)  # (n, 1)


@DATASETS.register("circular")
def circular(
    n: int = 1000, radius: float = 0.6, noise: float = 0.0, seed: int = 0,
    train_fraction: float = 0.7,
) -> TensorData:  # fmt: skip
    """Label 1 inside the circle of ``radius`` around the origin, 0 outside: the article's case
    where a linear model fails."""
    _check("circular", n, noise)
    check_range("circular", "radius", radius, 0.0, math.sqrt(2))
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 2, generator=gen) - 1  # (n, 2)
    return _finish("circular", x, x.norm(dim=1) < radius, noise, gen, seed, train_fraction)


@DATASETS.register("xor")
def xor(
    n: int = 1000, noise: float = 0.0, seed: int = 0, train_fraction: float = 0.7
) -> TensorData:
    """Label 1 where the two coordinates have opposite signs."""
    _check("xor", n, noise)
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 2, generator=gen) - 1
    return _finish("xor", x, (x[:, 0] * x[:, 1]) < 0, noise, gen, seed, train_fraction)


@DATASETS.register("spiral")
def spiral(
    n: int = 1000, turns: float = 1.5, noise: float = 0.0, seed: int = 0,
    train_fraction: float = 0.7,
) -> TensorData:  # fmt: skip
    """Two interleaved spirals of ``turns`` turns each, one per class."""
    _check("spiral", n, noise)
    check_range("spiral", "turns", turns, 0.0, 10.0)
    gen = torch.Generator().manual_seed(seed)
    label = torch.arange(n) % 2
    radius = torch.rand(n, generator=gen) * 0.95 + 0.05  # (n,)
    angle = 2 * math.pi * turns * radius + math.pi * label
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return _finish("spiral", x, label.bool(), noise, gen, seed, train_fraction)


@DATASETS.register("gaussians")
def gaussians(
    n: int = 1000, spread: float = 0.25, noise: float = 0.0, seed: int = 0, classes: int = 2,
    train_fraction: float = 0.7,
) -> TensorData:  # fmt: skip
    """Gaussian blobs of standard deviation ``spread``, one per class: two centred at
    ±(0.5, 0.5) (a binary task), or ``classes`` > 2 evenly round the circle of radius 0.6
    (a multiclass task, one colour each on the playground's page).

    >>> gaussians(n=300, classes=3).classes, gaussians(n=300).task
    (3, 'binary')
    """
    _check("gaussians", n, noise)
    check_range("gaussians", "spread", spread, 0.0, 2.0)
    check_range("gaussians", "classes", classes, 2, 12, low_inclusive=True)
    gen = torch.Generator().manual_seed(seed)
    label = torch.arange(n) % classes
    if classes == 2:
        centre = (2 * label.float() - 1).unsqueeze(-1) * 0.5  # (n, 1)
        x = centre + spread * torch.randn(n, 2, generator=gen)
        return _finish("gaussians", x, label.bool(), noise, gen, seed, train_fraction)
    angle = 2 * math.pi * label.double() / classes + math.pi / 4
    centres = 0.6 * torch.stack([angle.cos(), angle.sin()], dim=1).float()  # (n, 2)
    x = centres + spread * torch.randn(n, 2, generator=gen)
    x = x + noise * torch.randn(n, 2, generator=gen)
    fractions = train_split("gaussians", train_fraction)
    return split(x, label, "multiclass", seed, classes=classes, fractions=fractions)

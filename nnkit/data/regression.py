"""Regression sets: a line (``linear``), a curve (``nonlinear``), and over the plane the
Playground's two: a tilted plane (``plane``) and a bump (``bump``).

>>> data = linear(n=50)
>>> data.task, data.in_features, data.out_features
('regression', 1, 1)
"""

from __future__ import annotations

import torch

from nnkit.data.dataset import DATASETS, TensorData, check_range, check_size, split, train_split


@DATASETS.register("linear")
def linear(
    n: int = 1000,
    dim: int = 1,
    slope: float = 2.0,
    intercept: float = 0.5,
    noise: float = 0.1,
    seed: int = 0,
) -> TensorData:
    """y = slope · (x_1 + ... + x_dim) + intercept + noise · ε, with x uniform in [-1, 1]^dim."""
    check_range("linear", "n", n, 0)
    check_range("linear", "dim", dim, 0)
    check_size("linear", n, dim + 1)
    check_range("linear", "noise", noise, 0.0, 1.0, low_inclusive=True)
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, dim, generator=gen) - 1  # (n, dim)
    y = slope * x.sum(dim=1, keepdim=True) + intercept  # (n, 1)
    return split(x, y + noise * torch.randn(y.shape, generator=gen), "regression", seed)


@DATASETS.register("nonlinear")
def nonlinear(n: int = 500, frequency: float = 3.0, noise: float = 0.1, seed: int = 0):
    """The article's "nonlinear regression": y = sin(frequency · x) + noise · ε on [-1, 1]."""
    check_range("nonlinear", "n", n, 0)
    check_size("nonlinear", n, 2)
    check_range("nonlinear", "frequency", frequency, 0.0, 50.0)
    check_range("nonlinear", "noise", noise, 0.0, 1.0, low_inclusive=True)
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.rand(n, 1, generator=gen) - 1  # (n, 1)
    y = torch.sin(frequency * x)
    return split(x, y + noise * torch.randn(y.shape, generator=gen), "regression", seed)


@DATASETS.register("plane")
def plane(
    n: int = 1000, noise: float = 0.05, seed: int = 0, train_fraction: float = 0.7
) -> TensorData:
    """The Playground's "plane": y = (x_1 + x_2) / 2 + noise · ε on the square [-1, 1]² — a
    two-input regression that a linear model already fits."""
    x, gen = _square("plane", n, noise, seed)
    y = x.sum(dim=1, keepdim=True) / 2  # (n, 1)
    return _noisy("plane", x, y, noise, gen, seed, train_fraction)


@DATASETS.register("bump")
def bump(
    n: int = 1000, width: float = 0.4, noise: float = 0.05, seed: int = 0,
    train_fraction: float = 0.7,
) -> TensorData:  # fmt: skip
    """A Gaussian bump over the square: y = exp(-|x|² / (2 width²)) + noise · ε — a two-input
    regression no plane fits, as the Playground's Gaussian one."""
    check_range("bump", "width", width, 0.0, 10.0)
    x, gen = _square("bump", n, noise, seed)
    y = torch.exp(-(x * x).sum(dim=1, keepdim=True) / (2 * width**2))  # (n, 1)
    return _noisy("bump", x, y, noise, gen, seed, train_fraction)


def _square(name: str, n: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    """``n`` points uniform on [-1, 1]² for a two-input regression, and the generator that
    then draws its noise (the settings checked first)."""
    check_range(name, "n", n, 0)
    check_size(name, n, 3)
    check_range(name, "noise", noise, 0.0, 1.0, low_inclusive=True)
    gen = torch.Generator().manual_seed(seed)
    return 2 * torch.rand(n, 2, generator=gen) - 1, gen  # (n, 2)


def _noisy(
    name: str, x: torch.Tensor, y: torch.Tensor, noise: float, gen: torch.Generator, seed: int,
    train_fraction: float,
) -> TensorData:  # fmt: skip
    """A two-input regression's split, noise added to ``y``, ``train_fraction`` training."""
    y = y + noise * torch.randn(y.shape, generator=gen)
    return split(x, y, "regression", seed, fractions=train_split(name, train_fraction))

"""The layers that come after the article: dropout, layer and batch normalization, each a
forward beside its hand-derived backward (the residual connection is the whole network's, in
``nnkit.maths.network``).

Every function takes rows along its second-to-last dimension and units along its last, with any
leading dimension before them (a replica's): ``(N, H)`` or ``(R, N, H)``; the normalizations'
scale and shift are ``(H,)`` or ``(R, H)``. ``nnkit.gradcheck`` proves each backward against
torch's own layers (``nn.Dropout`` with the same mask, ``nn.LayerNorm``, ``nn.BatchNorm1d`` in
training and evaluation mode) in float64.

>>> z = torch.tensor([[1.0, 3.0], [3.0, 7.0]])
>>> y, kept = norm_forward(z, torch.ones(2), torch.zeros(2), "batch", 0.0)
>>> y
tensor([[-1., -1.],
        [ 1.,  1.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

NORMS = ("none", "layer", "batch")
EPS = 1e-5  # torch's nn.LayerNorm and nn.BatchNorm1d default
MOMENTUM = 0.1  # nn.BatchNorm1d's: running = (1 - m) running + m batch


# --- dropout --------------------------------------------------------------------------------
def dropout_mask(rows: int, keep: Tensor, generator: torch.Generator) -> Tensor:
    """Inverted dropout's masks for ``rows`` rows, ``(rows, units)`` float64 on the CPU: unit j
    kept with probability ``keep[j]`` (1 − its rate) and then scaled by 1 / keep[j] (so every
    unit's expected value is unchanged, and evaluation uses the network as it is), else 0;
    ``generator`` draws them, one uniform number per row and unit."""
    draws = torch.rand(rows, keep.numel(), generator=generator, dtype=torch.float64)
    return (draws < keep).to(torch.float64) / keep


def dropout_forward(a: Tensor, mask: Tensor) -> Tensor:
    """y = a · m, with m the mask (0, or 1 / (1 - rate))."""
    return a * mask


def dropout_backward(mask: Tensor, grad: Tensor) -> Tensor:
    """y = a · m is linear in a with slope m: dL/da = dL/dy · m — a dropped unit passes no
    error back, a kept one passes it scaled as its value was."""
    return grad * mask


# --- normalization --------------------------------------------------------------------------
@dataclass(frozen=True)
class Normalized:
    """What a normalization's forward keeps for its backward: the normalized values x̂, the
    reciprocal standard deviation r = 1 / sqrt(var + eps) and the mean and (biased) variance
    it used (the batch's, the row's, or the running statistics)."""

    xhat: Tensor
    rstd: Tensor
    mean: Tensor
    var: Tensor
    over: int | None  # the dimension the statistics are taken over; None: running statistics


def norm_forward(
    z: Tensor,
    weight: Tensor,
    bias: Tensor,
    kind: str,
    eps: float = EPS,
    running: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Normalized]:
    """y = γ · x̂ + β with x̂ = (z − μ) / sqrt(σ² + ε): ``layer`` normalization takes μ and σ²
    (biased) over each row's units, ``batch`` normalization over the batch's rows, unit by
    unit — or, given ``running`` (mean, variance), those statistics (batch normalization in
    evaluation)."""
    if running is not None:
        mean, var = (s.unsqueeze(-2) for s in running)
        over = None
    else:
        over = -1 if kind == "layer" else -2
        mean = z.mean(over, keepdim=True)
        var = (z - mean).square().mean(over, keepdim=True)
    rstd = (var + eps).rsqrt()
    xhat = (z - mean) * rstd
    return xhat * _units(weight) + _units(bias), Normalized(xhat, rstd, mean, var, over)


def norm_backward(kept: Normalized, weight: Tensor, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """With g = dL/dy, the scale and shift receive dL/dγ = Σ g · x̂ and dL/dβ = Σ g over the
    rows; the error at x̂ is g · γ. With fixed statistics x̂ = (z − μ) r is linear:
    dL/dz = g γ r. With statistics of the values themselves, over the M values that share them,
    μ and σ² depend on every z: dx̂_i/dz_j = r (δ_ij − 1/M − x̂_i x̂_j / M), so

        dL/dz = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)),   ĝ = g · γ,

    the means taken over the same M values (a row's units for layer normalization, a unit's
    rows for batch normalization). A constant feature (σ² = 0) has x̂ = 0 and passes on
    r (ĝ − mean(ĝ)), r = 1/sqrt(ε): finite, as torch's."""
    rows = tuple(range(grad.dim() - 1))[-1:]  # the batch's rows (per replica with replicas)
    grad_weight = (grad * kept.xhat).sum(rows)
    grad_bias = grad.sum(rows)
    ghat = grad * _units(weight)
    if kept.over is None:
        return ghat * kept.rstd, grad_weight, grad_bias
    centred = ghat - ghat.mean(kept.over, keepdim=True)
    along = (ghat * kept.xhat).mean(kept.over, keepdim=True)
    return kept.rstd * (centred - kept.xhat * along), grad_weight, grad_bias


def update_running(
    running: tuple[Tensor, Tensor], kept: Normalized, rows: int, momentum: float = MOMENTUM
) -> None:
    """Batch normalization's running statistics after a training batch of ``rows`` rows, as
    ``nn.BatchNorm1d`` keeps them: running = (1 − m) · running + m · batch, the variance the
    batch's unbiased one (σ² · N / (N − 1))."""
    mean, var = running
    mean.mul_(1 - momentum).add_(kept.mean.squeeze(-2).to(mean.dtype), alpha=momentum)
    unbiased = kept.var.squeeze(-2) * (rows / (rows - 1))
    var.mul_(1 - momentum).add_(unbiased.to(var.dtype), alpha=momentum)


def check_batch_rows(rows: int) -> None:
    """Batch normalization in training needs two rows at least: one row's variance is 0 and
    its x̂ all zeros, the statistics of nothing."""
    if rows < 2:
        raise ValueError(
            f"batch normalization needs at least 2 rows per training batch, got {rows}; "
            "raise data.batch_size, or use model.norm=layer"
        )


def _units(param: Tensor) -> Tensor:
    """A per-unit parameter ``(H,)`` or ``(R, H)`` shaped to broadcast over rows."""
    return param if param.dim() == 1 else param.unsqueeze(-2)


# --- the Functions the proof checks, one layer each -----------------------------------------
class NormFunction(Function):
    """One normalization layer as an autograd node: ``(z, weight, bias, kind, eps, running)``;
    ``running`` (mean, variance): evaluation with those statistics."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, weight: Tensor, bias: Tensor, kind: str, eps: float,
                running: tuple[Tensor, Tensor] | None) -> Tensor:  # fmt: skip
        y, kept = norm_forward(z, weight, bias, kind, eps, running)
        ctx.kept = kept
        ctx.save_for_backward(weight)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        (weight,) = ctx.saved_tensors
        grad_z, grad_weight, grad_bias = norm_backward(ctx.kept, weight, grad)
        return grad_z, grad_weight, grad_bias, None, None, None


class DropoutFunction(Function):
    """Dropout with a given mask as an autograd node: ``(a, mask)``."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, mask: Tensor) -> Tensor:
        ctx.save_for_backward(mask)
        return dropout_forward(a, mask)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        (mask,) = ctx.saved_tensors
        return dropout_backward(mask, grad), None

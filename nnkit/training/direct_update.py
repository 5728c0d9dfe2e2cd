"""The optimizer's update without ``optimizer.step()``'s per-call Python: the same kernel.

For a small network, torch's fused Adam spends most of its step in Python around one kernel —
grouping tensors by device, checking and creating state, hooks, the profiler's bookkeeping.
``direct_update`` finds the optimizer's own state once per training call and then calls that
kernel itself: the update is bit for bit ``optimizer.step()``'s, the state stays the
optimizer's (checkpoints and resume are unchanged). It covers fused Adam and AdamW and plain
SGD; anything else (momentum, amsgrad, hooks, tensors on several devices) returns None and the
training step calls ``optimizer.step()``.

>>> net = torch.nn.Linear(3, 1)
>>> _ = torch.nn.init.zeros_(net.weight)
>>> update = direct_update(torch.optim.SGD(net.parameters(), lr=0.1))
>>> update([torch.ones(1, 3), torch.ones(1)])
>>> net.weight
Parameter containing:
tensor([[-0.1000, -0.1000, -0.1000]], requires_grad=True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


class DirectUpdate:
    """An optimizer's update as one call: ``update(grads)`` for the parameters in order."""

    def __init__(self, params: list[Tensor], apply: Callable[[list[Tensor]], None]) -> None:
        self.params, self._apply = params, apply

    @torch.no_grad()
    def __call__(self, grads: Sequence[Tensor]) -> None:
        self._apply(list(grads))

    def order_of(self, params: Sequence[Tensor]) -> list[int] | None:
        """Where each of the optimizer's parameters sits in ``params`` (gradients come in that
        order), or None if ``params`` are not exactly the optimizer's."""
        position = {id(p): i for i, p in enumerate(params)}
        order = [position.get(id(p), -1) for p in self.params]
        return order if len(params) == len(order) and -1 not in order else None


def direct_update(optimizer: torch.optim.Optimizer) -> DirectUpdate | None:
    """The optimizer's update as a ``DirectUpdate``, or None where only ``step()`` can do it.

    Adam's state must exist (after its first ``step()``); a new ``DirectUpdate`` is needed
    after ``load_state_dict``, which replaces the state's tensors."""
    if len(optimizer.param_groups) != 1 or _has_hooks(optimizer):
        return None
    group = optimizer.param_groups[0]
    params = list(group["params"])
    if not params or len({(p.device, p.dtype) for p in params}) != 1:
        return None
    if isinstance(optimizer, torch.optim.Adam):
        return _adam(optimizer, group, params)
    if type(optimizer) is torch.optim.SGD:
        return _sgd(group, params)
    return None


def _has_hooks(optimizer: torch.optim.Optimizer) -> bool:
    from torch.optim import optimizer as torch_optimizer

    own = (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks)
    shared = (
        torch_optimizer._global_optimizer_pre_hooks,
        torch_optimizer._global_optimizer_post_hooks,
    )
    return any(len(hooks) for hooks in (*own, *shared))


def _adam(optimizer: torch.optim.Optimizer, group: dict, params: list[Tensor]):
    """torch's fused Adam/AdamW update (``_fused_adam``), its Python done once."""
    plain = not (group["amsgrad"] or group["maximize"] or group["differentiable"])
    fused = torch._fused_adamw_ if group.get("decoupled_weight_decay") else torch._fused_adam_
    if not (group.get("fused") and plain and isinstance(group["lr"], float)):
        return None
    states = [optimizer.state.get(p, {}) for p in params]
    if not all("exp_avg" in s for s in states):
        return None  # no state before the first step(): it creates it
    exp_avgs = [s["exp_avg"] for s in states]
    exp_avg_sqs = [s["exp_avg_sq"] for s in states]
    steps = [s["step"] for s in states]
    beta1, beta2 = (float(b) for b in group["betas"])

    def apply(grads: list[Tensor]) -> None:
        torch._foreach_add_(steps, 1)
        fused(
            params, grads, exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
            grad_scale=None, found_inf=None,
        )  # fmt: skip

    return DirectUpdate(params, apply)


def _sgd(group: dict, params: list[Tensor]) -> DirectUpdate | None:
    """Plain gradient descent, the article's: every weight steps against its gradient."""
    if group["momentum"] or group["weight_decay"] or group["maximize"]:
        return None

    def apply(grads: list[Tensor]) -> None:
        torch._foreach_add_(params, grads, alpha=-group["lr"])

    return DirectUpdate(params, apply)


class WeightUpdates:
    """The optimizer's updates over one training call: ``direct_update`` where it applies
    (from the step after the one that creates Adam's state), ``step()`` otherwise; the last
    gradients are kept (the gradient norms are logged from them).

    >>> net = torch.nn.Linear(2, 1)
    >>> updates = WeightUpdates(torch.optim.Adam(net.parameters(), fused=True))
    >>> updates.update is None  # Adam has no state before its first step()
    True
    >>> updates(list(net.parameters()), [torch.ones(1, 2), torch.ones(1)])
    >>> updates.update is not None  # from the next step on, its kernel directly
    True
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.update = direct_update(optimizer)
        self.order: list[int] | None = None
        self.last: tuple[Sequence[Tensor], Sequence[Tensor]] = ([], [])

    def __call__(self, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
        self.last = (params, grads)
        if self.update is not None and self.order is None:
            self.order = self.update.order_of(params)
        if self.update is not None and self.order is not None:
            self.update([grads[i] for i in self.order])
            return
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad
        self.optimizer.step()
        self.update, self.order = direct_update(self.optimizer), None

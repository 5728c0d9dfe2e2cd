"""``trainer.epoch_loop``: who runs a run's data epochs, and why — the engine's epoch loop
(many data epochs per Lightning call, ``nnkit.training.epoch_calls``) or Lightning's own (one
per call, every hook of Lightning's around each).

``auto`` takes the engine's loop where it can serve the run and pays: Lightning's loop costs
about ``LIGHTNING_EPOCH_MS`` per epoch of its own (its hooks, validation loop and logging;
``docs/explanation/performance.md``), so the engine's pays where an epoch's training is
estimated under ten times that.

>>> epoch_ms(widths=[2, 4, 2, 1], batch_size=10, steps=25) < 10 * LIGHTNING_EPOCH_MS
True
>>> epoch_ms(widths=[784, 512, 10], batch_size=128, steps=469) > 10 * LIGHTNING_EPOCH_MS
True
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import Any

from nnkit.training.native_steps import EAGER_MACS_PER_US, EAGER_US_PER_LAYER, widths_of

LIGHTNING_EPOCH_MS = 10.0
PLAIN_PRECISIONS = ("32-true", "64-true", "32", "64")


def epoch_ms(widths: Sequence[int], batch_size: int, steps: int) -> float:
    """An epoch's training estimated as torch's eager step would take it (an upper bound: the
    native program is faster where it runs)."""
    macs = batch_size * sum(a * b for a, b in itertools.pairwise(widths))
    step_us = EAGER_US_PER_LAYER * (len(widths) - 1) + 3 * macs / EAGER_MACS_PER_US
    return steps * step_us / 1000


def _problem(cfg: Any, trainer: Any, replicas: int, outputs: int, task: str) -> str | None:
    """Why the engine's epoch loop cannot serve this run, or None."""
    from nnkit.search.trial import current_trial

    t = cfg.trainer
    problems = [
        (trainer.world_size > 1, "DDP synchronises its processes in Lightning's loop"),
        (str(trainer.precision) not in PLAIN_PRECISIONS, "mixed precision steps in Lightning"),
        (replicas > 1, "replicas' per-replica metrics are logged by Lightning's loop"),
        (current_trial() is not None, "an Optuna trial reports at Lightning's epoch ends"),
        (cfg.logger.figures_every_n_epochs > 0, "figures are drawn at Lightning's epoch ends"),
        (t.progress_bar == "rich" and sys.stdout.isatty(), "Rich's bar counts Lightning's"
         " epochs"),
        (bool(t.fast_dev_run) or t.overfit_batches > 0, "fast_dev_run and overfit_batches are"
         " Lightning's"),
        (task == "regression" and outputs > 1, "several regression outputs' metrics are"
         " torchmetrics'"),
    ]  # fmt: skip
    return next((why for found, why in problems if found), None)


def choose_epoch_loop(
    cfg: Any, trainer: Any, net: Any, data: Any, replicas: int
) -> tuple[str, str]:
    """("engine" or "lightning", the reason in words) for ``trainer.epoch_loop``."""
    setting = str(cfg.trainer.epoch_loop)
    if setting == "lightning":
        return "lightning", "trainer.epoch_loop=lightning"
    problem = _problem(cfg, trainer, replicas, data.out_features, data.task)
    if problem is not None:
        return "lightning", f"trainer.epoch_loop={setting}, but {problem}"
    if setting == "engine":
        return "engine", "trainer.epoch_loop=engine"
    rows = len(data.train[0])
    batch = cfg.data.batch_size or rows
    estimate = epoch_ms(_widths(net), batch, -(-rows // batch))
    if estimate >= 10 * LIGHTNING_EPOCH_MS:
        return "lightning", (
            f"trainer.epoch_loop=auto: an epoch's training (~{estimate:.0f} ms) outweighs "
            f"Lightning's own work per epoch (~{LIGHTNING_EPOCH_MS:.0f} ms)"
        )
    return "engine", (
        "trainer.epoch_loop=auto: many data epochs per Lightning call, Lightning's own work "
        f"(~{LIGHTNING_EPOCH_MS:.0f} ms an epoch) paid once per call"
    )


def _widths(net: Any) -> list[int]:
    """The network's widths; for a model without them, its parameters as one wide layer."""
    params = getattr(net, "network_params", None)
    if params is not None:
        return widths_of(params())
    return [1, sum(p.numel() for p in net.parameters())]

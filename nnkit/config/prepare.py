"""``prepare(cfg, run_dir)``: everything a run is made of, checked and built once, before any
run folder exists — plugins, settings, seed, data, network, loss, the proof of its ops'
gradients, the checkpoint to resume from, the objective. Every mistake a user can make
surfaces here as a one-line error, before any training starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import ListConfig
from torch import nn

from nnkit.catalog import REGISTRIES
from nnkit.config.build import (
    build_data,
    build_network,
    build_task_loss,
    check_optimizer,
    check_scheduler,
    loss_name,
    params_of,
    plain,
    user_errors,
)
from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.schema import check_settings
from nnkit.data.dataset import TensorData
from nnkit.data.task import logged_metrics, resolve_objective
from nnkit.errors import ConfigError, PluginError, one_line
from nnkit.plugins import load_modules, set_policy
from nnkit.proof.before_run import RunProof, prove_ops, run_ops
from nnkit.registry import unknown_name_message
from nnkit.rng import seed_everything
from nnkit.runs.checkpoints import Resume, check_resumable


@dataclass
class Prepared:
    """What a run is made of, built and checked: ``config`` is the plain config it came from."""

    config: dict[str, Any]
    data: TensorData
    net: nn.Module
    loss: nn.Module
    resume: Resume | None  # the checkpoint to resume from, checked
    objectives: tuple[tuple[str, str], ...]  # (metric, "max" or "min"): what a search gets
    proof: RunProof  # the gradient proof of the run's ops, made before the first step

    @property
    def objective(self) -> tuple[str, str]:
        """The first objective: the metric best.ckpt is chosen by, and its mode."""
        return self.objectives[0]


def prepare(cfg: Any, run_dir: Path) -> Prepared:
    """Check ``cfg`` and build its run, in this order: plugins and settings → seed → data →
    network → loss → the proof of its ops' gradients → the checkpoint to resume from → the
    objective. Raises a one-line user error for any mistake, a failed proof included."""
    with _missing_keys():
        validate(cfg)
        seed_everything(cfg.seed)
        data = build_data(cfg.data)
        replicas = cfg.trainer.replicas
        net = build_network(cfg.model, data, cfg.seed, replicas)
        _check_batch_rows(net, len(data.train[0]), int(cfg.data.batch_size))
        backend = cfg.model.get("backend", "nnkit")
        loss = build_task_loss(cfg.loss, data.task, backend, replicas)
        proof = prove_run(cfg, data.task)
        resume = check_resumable(cfg.ckpt_path, Path(run_dir), net)
        objectives = _objectives(data.task, cfg.objective, replicas)
        _check_monitor(data.task, cfg.scheduler, replicas)
    return Prepared(plain(cfg), data, net, loss, resume, objectives, proof)


def _check_batch_rows(net: nn.Module, rows: int, batch_size: int) -> None:
    """Batch normalization's statistics need two rows in every training batch, the last of
    an epoch included."""
    extras = getattr(net, "extras", None)
    if extras is None or "batch" not in extras.kinds or batch_size <= 0:
        return
    last = rows % batch_size if rows > batch_size else rows
    if batch_size == 1 or last == 1:
        where = "every batch" if batch_size == 1 else f"the last batch of {rows} rows"
        raise ConfigError(
            f"data.batch_size={batch_size}: batch normalization (model.norm=batch) needs two "
            f"rows per training batch, and {where} would hold one; choose another batch size, "
            "or model.norm=layer"
        )


def _check_monitor(task: str, scheduler: Any, replicas: int) -> None:
    """A schedule that watches a metric (``plateau``) watches one the run logs (train or val)."""
    monitor = scheduler.get("monitor")
    names = [n for n in logged_metrics(task, replicas) if not n.startswith("test/")]
    if isinstance(monitor, str) and monitor not in names:
        raise ConfigError(unknown_name_message("scheduler.monitor", monitor, names))


def _objectives(task: str, objective: Any, replicas: int) -> tuple[tuple[str, str], ...]:
    """``objective`` (one metric or a list) as (metric, mode) pairs."""
    names = list(objective) if isinstance(objective, list | ListConfig) else [objective]
    if not names:
        raise ConfigError("objective=[]: name at least one validation metric (or auto)")
    with user_errors("objective"):
        return tuple(resolve_objective(task, str(name), replicas) for name in names)


def validate(cfg: Any) -> None:
    """Everything that can be checked before data is made: plugins, names, settings."""
    load_plugins(cfg)
    for group_name, group in CONFIG_GROUPS.items():
        if cfg[group_name] is None:
            raise ConfigError(f"{group_name}=null: a run needs a {group_name}")
        name = cfg[group_name].name
        if not isinstance(name, str):
            choices = ", ".join(group.registry.names())
            raise ConfigError(
                f"{group_name}.name={name!r} should be a name (choose from: {choices})"
            )
        if group_name != "loss" or name != "auto":
            group.registry.get(name)
    check_settings(cfg)
    check_optimizer(cfg.optimizer)
    check_scheduler(cfg.scheduler, float(cfg.optimizer.get("lr", 0.01)))


def load_plugins(cfg: Any) -> None:
    """Apply the config's plugin policy, import its plugin modules, and under
    ``plugin_loading.strict`` refuse any installed plugin that failed to load."""
    policy = cfg.plugin_loading
    set_policy(policy.discover, policy.strict, policy.timeout_s)
    load_modules(cfg.plugins)
    if policy.strict:
        for registry in REGISTRIES:
            for reason in registry.unavailable().values():
                raise PluginError(reason)


def prove_run(cfg: Any, task: str) -> RunProof:
    """The gradient proof of the ops the run uses (its activations and its loss), made before
    the first step; plugin ops are proved unless ``plugin_loading.prove=false``."""
    ops = run_ops(cfg.model, loss_name(cfg.loss, task), params_of("loss", cfg.loss))
    policy = cfg.plugin_loading
    return prove_ops(ops, policy.prove, list(cfg.plugins), policy.proof_timeout_s)


@contextmanager
def _missing_keys() -> Iterator[None]:
    """A key nnkit needs that was removed (``~key``) or retyped: a one-line ``ConfigError``."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except OmegaConfBaseException as error:
        raise ConfigError(f"{one_line(str(error))} (a key nnkit needs is missing)") from error

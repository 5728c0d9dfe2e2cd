"""From a config to objects: ``prepare(cfg, run_dir)`` checks everything and builds the data,
the network and the loss — once, before any run folder exists.

These functions hold the only mapping from config keys to registry look-ups. Every mistake a
user can make surfaces here as a one-line error, before any training starts. Imports no
Lightning, so ``nnkit.predict`` can rebuild a network from a checkpoint's config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from nnkit.checkpoints import Resume, check_resumable
from nnkit.config import check_settings
from nnkit.data.dataset import TensorData
from nnkit.errors import ConfigError, PluginError, one_line
from nnkit.losses import Loss
from nnkit.plugins import load_modules, set_policy
from nnkit.registries import CONFIG_GROUPS, REGISTRIES
from nnkit.registry import RegistryError
from nnkit.rng import seed_everything
from nnkit.run_proof import RunProof, prove_ops, run_ops
from nnkit.signature import check_params
from nnkit.task import TASKS, check_loss_fits, resolve_objective


def plain(value: Any) -> Any:
    """A config (or part of one) as plain dicts, lists and scalars."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def params_of(group: str, section: Mapping[str, Any]) -> dict[str, Any]:
    """A config section's entry parameters, as plain values."""
    return CONFIG_GROUPS[group].params(plain(section))


@contextmanager
def _user_errors(action: str) -> Iterator[None]:
    """Turn the errors a bad config raises inside builders into one-line ``ConfigError``s."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, RegistryError, KeyError, ImportError) as error:
        raise ConfigError(f"{action}: {error}") from error


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


def check_optimizer(section: Mapping[str, Any]) -> None:
    """Check the optimizer's settings against its signature, then let it check their values on
    a stand-in parameter (torch's own range checks: betas, eps, ...)."""
    import torch

    name = section["name"]
    fn = CONFIG_GROUPS["optimizer"].registry.get(name)
    params = params_of("optimizer", section)
    check_params("optimizer", name, fn, params, skip=1)
    with _user_errors(f"optimizer={name}"):
        fn([torch.nn.Parameter(torch.zeros(1))], **params)


def build_data(section: Mapping[str, Any]) -> TensorData:
    """Generate the dataset named in ``data.name`` with its parameters."""
    name = section["name"]
    fn = CONFIG_GROUPS["data"].registry.get(name)
    params = params_of("data", section)
    check_params("dataset", name, fn, params)
    with _user_errors(f"data={name}"):
        data = fn(**params)
    if not isinstance(data, TensorData):
        raise ConfigError(f"dataset '{name}' returned {type(data).__name__}, not TensorData")
    if section["batch_size"] > len(data.train[0]):
        raise ConfigError(
            f"data.batch_size={section['batch_size']} is larger than the training set of "
            f"dataset '{name}' ({len(data.train[0])} samples; valid: 1..{len(data.train[0])})"
        )
    return data


def build_net(section: Mapping[str, Any], in_features: int, out_features: int) -> nn.Module:
    """Build the network named in ``model.name`` for data of the given sizes."""
    name = section["name"]
    fn = CONFIG_GROUPS["model"].registry.get(name)
    params = params_of("model", section)
    check_params("model", name, fn, params, skip=2)
    with _user_errors(f"model={name}"):
        return fn(in_features, out_features, **params)


def build_replicas(section: Mapping[str, Any], data: TensorData, seed: int, replicas: int):
    """``replicas`` networks, replica r built exactly as a single run with ``seed + r``, stacked
    into one ``ReplicaMLP``; refused if they cannot be stacked or would not fit in memory."""
    from nnkit.models import MLP
    from nnkit.replicas import ReplicaMLP

    def make() -> nn.Module:
        return build_net(section, data.in_features, data.out_features)

    one = make()
    if not isinstance(one, MLP):
        raise ConfigError(
            f"trainer.replicas={replicas} needs a model nnkit can stack (an MLP: mlp, linear); "
            f"model '{section['name']}' builds a {type(one).__name__}"
        )
    check_replica_memory(one, data, replicas)
    return ReplicaMLP.build(make, [seed + r for r in range(replicas)])


def check_replica_memory(net: nn.Module, data: TensorData, replicas: int) -> None:
    """Estimate what ``replicas`` copies need (weights, gradients, two optimizer moments, and
    each replica's shuffled copy of the training set) and refuse more than half the memory
    that is free."""
    import os

    weights = sum(p.numel() for p in net.parameters()) * 4
    x, y = data.train
    samples = x.numel() + y.numel()
    need = replicas * (4 * weights + 2 * samples * 4)
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if need > free // 2:
        fits = max(1, free // 2 // (need // replicas))
        raise ConfigError(
            f"trainer.replicas={replicas} would need about {need / 2**30:.1f} GiB "
            f"({(4 * weights + 8 * samples) / 2**20:.2f} MiB per replica); "
            f"{free / 2**30:.1f} GiB is free (valid: trainer.replicas <= {fits})"
        )


def loss_name(section: Mapping[str, Any], task: str) -> str:
    """``loss.name``, with ``auto`` resolved to the task's usual loss."""
    return TASKS[task].default_loss if section["name"] == "auto" else section["name"]


def build_task_loss(section: Mapping[str, Any], task: str, backend: str) -> nn.Module:
    """Build the loss, check it fits the task, and run it on ``backend`` (the model's: one
    backend runs the whole step, network and loss)."""
    from nnkit.losses import build_loss

    name = loss_name(section, task)
    with _user_errors(f"loss={name}"):
        loss = build_loss(name, backend=backend, **params_of("loss", section))
        check_loss_fits(
            task, name, getattr(loss, "inputs", "values"), getattr(loss, "targets", "dense")
        )
    return loss


@dataclass
class Prepared:
    """What a run is made of, built and checked: ``config`` is the plain config it came from."""

    config: dict[str, Any]
    data: TensorData
    net: nn.Module
    loss: nn.Module
    resume: Resume | None  # the checkpoint to resume from, checked
    objective: tuple[str, str]  # the metric best.ckpt is chosen by, and "max" or "min"
    proof: RunProof  # the gradient proof of the run's ops, made before the first step


def prepare(cfg: Any, run_dir: Path) -> Prepared:
    """Check ``cfg`` and build its run: plugins → settings → seed → data → model → loss →
    the proof of its ops' gradients → the checkpoint to resume from. Raises a one-line user
    error for any mistake, a failed proof included."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        validate(cfg)
        seed_everything(cfg.seed)
        data = build_data(cfg.data)
        replicas = cfg.trainer.get("replicas", 1)
        if replicas == 1:
            net = build_net(cfg.model, data.in_features, data.out_features)
        else:
            net = build_replicas(cfg.model, data, cfg.seed, replicas)
        loss = build_task_loss(cfg.loss, data.task, cfg.model.get("backend", "nnkit"))
        if replicas > 1 and not isinstance(loss, Loss):
            raise ConfigError(
                f"trainer.replicas={replicas} needs a loss with a reduction (mse, bce, "
                f"cross_entropy); loss '{cfg.loss.name}' has none"
            )
        ops = run_ops(cfg.model, loss_name(cfg.loss, data.task), params_of("loss", cfg.loss))
        proof = prove_ops(ops, cfg.plugin_loading.get("prove", True), list(cfg.plugins))
        resume = check_resumable(cfg.ckpt_path, Path(run_dir), net)
        with _user_errors("objective"):
            objective = resolve_objective(data.task, cfg.objective, replicas)
    except OmegaConfBaseException as error:  # a key nnkit needs was removed (~key) or retyped
        raise ConfigError(f"{one_line(str(error))} (a key nnkit needs is missing)") from error
    return Prepared(plain(cfg), data, net, loss, resume, objective, proof)

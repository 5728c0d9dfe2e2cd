"""From config sections to objects: the data, the network (or its replicas), the loss and
the optimizer's settings, each looked up in its registry and checked against its signature.

These functions hold the only mapping from config keys to registry look-ups; a bad value is a
one-line ``ConfigError``. They import no Lightning, so ``nnkit.inference`` can rebuild a network
from a checkpoint's config.

>>> build_net({"name": "mlp", "hidden": [4], "activation": "sigmoid"}, 2, 1)
MLP(...)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch import nn

from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.signature import check_params
from nnkit.data.dataset import TensorData
from nnkit.data.task import TASKS, check_loss_fits
from nnkit.errors import ConfigError
from nnkit.losses import Loss, build_loss
from nnkit.models import MLP
from nnkit.registry import RegistryError
from nnkit.replicas import ReplicaMLP


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
def user_errors(action: str) -> Iterator[None]:
    """Turn the errors a bad config raises inside builders into one-line ``ConfigError``s."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, RegistryError, KeyError, ImportError) as error:
        raise ConfigError(f"{action}: {error}") from error


def check_optimizer(section: Mapping[str, Any]) -> None:
    """Check the optimizer's settings against its signature, then let it check their values on
    a stand-in parameter (torch's own range checks: betas, eps, ...)."""
    import torch

    name = section["name"]
    fn = CONFIG_GROUPS["optimizer"].registry.get(name)
    params = params_of("optimizer", section)
    check_params("optimizer", name, fn, params, skip=1)
    with user_errors(f"optimizer={name}"):
        fn([torch.nn.Parameter(torch.zeros(1))], **params)


def check_scheduler(section: Mapping[str, Any], lr: float) -> None:
    """Check the scheduler's settings against its signature, then build it over a stand-in
    optimizer of rate ``lr`` (torch's own checks: factors, milestones, ...)."""
    import torch

    from nnkit.optimizers.schedulers import build_scheduler

    name = section["name"]
    fn = CONFIG_GROUPS["scheduler"].registry.get(name)
    params = params_of("scheduler", section)
    check_params("scheduler", name, fn, params, skip=2)
    stand_in = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    with user_errors(f"scheduler={name}"):
        build_scheduler(
            name, stand_in, max(int(section["total"]), 1), section["interval"], **params
        )


def build_data(section: Mapping[str, Any]) -> TensorData:
    """Generate the dataset named in ``data.name`` with its parameters."""
    name = section["name"]
    fn = CONFIG_GROUPS["data"].registry.get(name)
    params = params_of("data", section)
    check_params("dataset", name, fn, params)
    with user_errors(f"data={name}"):
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
    with user_errors(f"model={name}"):
        return fn(in_features, out_features, **params)


def build_network(
    section: Mapping[str, Any], data: TensorData, seed: int, replicas: int
) -> nn.Module:
    """The run's network for ``data``: one, or ``replicas`` of them stacked."""
    if replicas == 1:
        return build_net(section, data.in_features, data.out_features)
    return build_replicas(section, data, seed, replicas)


def build_replicas(
    section: Mapping[str, Any], data: TensorData, seed: int, replicas: int
) -> ReplicaMLP:
    """``replicas`` networks, replica r built exactly as a single run with ``seed + r``, stacked
    into one ``ReplicaMLP``; refused if they cannot be stacked or would not fit in memory."""

    def make() -> MLP:
        net = build_net(section, data.in_features, data.out_features)
        if not isinstance(net, MLP):
            raise ConfigError(
                f"trainer.replicas={replicas} needs a model nnkit can stack (an MLP: mlp, "
                f"linear); model '{section['name']}' builds a {type(net).__name__}"
            )
        return net

    check_replica_memory(make(), data, replicas)
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


def build_task_loss(
    section: Mapping[str, Any], task: str, backend: str, replicas: int = 1
) -> nn.Module:
    """Build the loss, check it fits the task (and, for ``replicas``, that it has a reduction
    to split by replica), and run it on ``backend`` (the model's: one backend runs the whole
    step, network and loss)."""
    name = loss_name(section, task)
    with user_errors(f"loss={name}"):
        loss = build_loss(name, backend=backend, **params_of("loss", section))
        check_loss_fits(
            task, name, getattr(loss, "inputs", "values"), getattr(loss, "targets", "dense")
        )
    if replicas > 1 and not isinstance(loss, Loss):
        raise ConfigError(
            f"trainer.replicas={replicas} needs a loss with a reduction (mse, bce, "
            f"cross_entropy); loss '{name}' has none"
        )
    return loss

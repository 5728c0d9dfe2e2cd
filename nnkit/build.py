"""From a validated config to objects: data, network, loss and LightningModule.

These functions hold the only mapping from config keys to registry look-ups. Every mistake a
user can make here surfaces as a ``ConfigError`` (one line), before any training starts.
Imports no Lightning, so ``nnkit.predict`` can rebuild a network from a checkpoint's config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch import nn

from nnkit.config import ConfigError, check_params
from nnkit.data.dataset import DATASETS, TensorData
from nnkit.losses import LOSSES, build_loss
from nnkit.models import MODELS, build_model
from nnkit.registry import RegistryError
from nnkit.task import DEFAULT_LOSS, check_loss_fits

DATA_KEYS = ("name", "batch_size", "eval_batch_size")


def _params(section: Mapping[str, Any], reserved: tuple[str, ...]) -> dict[str, Any]:
    """A config section's parameters as plain Python values, without the ``reserved`` keys."""
    return {k: v for k, v in plain(section).items() if k not in reserved}


@contextmanager
def _user_errors(action: str) -> Iterator[None]:
    """Turn the errors a bad config raises inside builders into one-line ``ConfigError``s."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, RegistryError, KeyError, ImportError) as error:
        raise ConfigError(f"{action}: {error}") from error


def build_data(section: Mapping[str, Any]) -> TensorData:
    """Generate the dataset named in ``data.name`` with its parameters."""
    name = section["name"]
    fn = DATASETS.get(name)
    params = _params(section, DATA_KEYS)
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
    params = _params(section, ("name",))
    check_params("model", name, MODELS.get(name), params, skip=2)
    with _user_errors(f"model={name}"):
        return build_model(name, in_features, out_features, **params)


def loss_name(section: Mapping[str, Any], task: str) -> str:
    """``loss.name``, with ``auto`` resolved to the task's usual loss."""
    return DEFAULT_LOSS[task] if section["name"] == "auto" else section["name"]


def build_task_loss(section: Mapping[str, Any], task: str, backend: str) -> nn.Module:
    """Build the loss, check it fits the task, and run it on ``backend``."""
    name = loss_name(section, task)
    obj = LOSSES.get(name)
    params = _params(section, ("name",))
    with _user_errors(f"loss={name}"):
        loss = build_loss(obj, backend=backend, **params)
        check_loss_fits(
            task, name, getattr(loss, "inputs", "values"), getattr(loss, "targets", "dense")
        )
    return loss


def plain(value: Any) -> Any:
    """A config (or part of one) as plain dicts, lists and scalars."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def build_all(cfg: Any) -> tuple[TensorData, nn.Module, nn.Module]:
    """Data, network and loss for ``cfg`` — every user mistake surfaces here, before a run."""
    data = build_data(cfg.data)
    net = build_net(cfg.model, data.in_features, data.out_features)
    loss = build_task_loss(cfg.loss, data.task, cfg.model.get("backend", "nnkit"))
    return data, net, loss

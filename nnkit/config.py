"""The typed configuration: a schema for every group, checked before any work starts.

Fixed groups (``optimizer``, ``trainer``, ``logger``) are dataclasses in Hydra's ConfigStore,
so a typo'd key or a wrong type fails while the config is composed. Registry-backed groups
(``model``, ``data``, ``loss``) name an entry; their other keys are that entry's parameters and
are checked against its signature, so plugins are validated the same way as built-ins.

>>> check_params("dataset", "circular", lambda n=10, radius=0.5: None, {"radus": 1.0})
Traceback (most recent call last):
...
nnkit.config.ConfigError: unknown parameter 'radus' for dataset 'circular' — did you mean 'radius'? (valid: n, radius)
"""  # noqa: E501

from __future__ import annotations

import collections.abc
import difflib
import importlib.util
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

ACCELERATORS = ("auto", "cpu", "gpu")
PROGRESS_BARS = ("tqdm", "rich", "none")
LOGGERS = ("tensorboard", "none")
OPTIMIZERS = ("sgd", "adam")


class ConfigError(ValueError):
    """A user's configuration is wrong; the message is one line with the valid choices."""


@dataclass
class OptimizerConfig:
    name: str = "adam"  # sgd (the article's plain gradient descent) or adam
    lr: float = 0.01  # learning rate, > 0
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0  # L2 penalty, >= 0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # adam only
    fused: bool = True  # torch's fused kernels: fewer, larger operations per step


@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto (CUDA when present), cpu or gpu
    devices: Any = "auto"  # how many devices, or "auto"
    num_nodes: int = 1  # machines, for DDP on a cluster
    strategy: str = "auto"  # auto, ddp, ddp_spawn, ...
    max_epochs: int = 100  # epochs to train
    max_steps: int = -1  # optimizer steps to train; -1: no limit
    steps_per_call: int = 16  # optimizer steps (minibatches) per Lightning training call
    threads: int = 1  # CPU threads for torch; 1 suits small models; 0 keeps torch's default
    progress_bar: str = "tqdm"  # tqdm, rich or none
    deterministic: bool = True  # bit-identical reruns on CPU
    log_every_n_steps: int = 50  # how often step-level scalars are written
    check_val_every_n_epoch: int = 1  # validation frequency
    precision: str = "32-true"  # Lightning precision
    checkpoint_interval_s: float = 10.0  # last.ckpt at epoch ends at most this often; 0: every


@dataclass
class LoggerConfig:
    name: str = "tensorboard"  # tensorboard or none
    figures_every_n_epochs: int = 0  # figures also every N epochs; 0: only at the end
    figures: bool = True  # decision boundary, fitted curve or confusion matrix


@dataclass
class NNKitConfig:
    seed: int = 0  # seeds Python, numpy and torch; datasets take their own seed
    plugins: list[str] = field(default_factory=list)  # modules or .py files to import first
    ckpt_path: Any = None  # checkpoint to resume from; "last" resumes the run folder's last
    model: Any = None
    data: Any = None
    loss: Any = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


def store_schemas() -> None:
    """Register the schemas in Hydra's ConfigStore (``train.yaml`` lists them first)."""
    store = ConfigStore.instance()
    store.store(name="nnkit_schema", node=NNKitConfig)
    store.store(name="optimizer_schema", node=OptimizerConfig)
    store.store(name="trainer_schema", node=TrainerConfig)
    store.store(name="logger_schema", node=LoggerConfig)


def one_of(key: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{key}={value!r} is not valid{hint} (choose from: {', '.join(choices)})")


def at_least(key: str, value: float, low: float, strict: bool = False) -> None:
    """Raise ``ConfigError`` unless ``value >= low`` (``> low`` when ``strict``)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} should be a number")
    if (value <= low) if strict else (value < low):
        raise ConfigError(
            f"{key}={value} is out of range (valid: {key} {'>' if strict else '>='} {low})"
        )


def _fits_annotation(value: Any, annotation: Any) -> bool:
    """Whether ``value`` fits a type hint (unions, generics by their origin, float ⊇ int)."""
    if annotation is Any:
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_fits_annotation(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation) or annotation
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (collections.abc.Sequence, list, tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, origin) if isinstance(origin, type) else True


def _type_fits(value: Any, default: Any, annotation: Any = None) -> bool:
    if annotation is not None:
        return _fits_annotation(value, annotation)
    if default is None or default is inspect.Parameter.empty:
        return True
    return _fits_annotation(value, list if isinstance(default, tuple) else type(default))


def _type_name(annotation: Any, default: Any) -> str:
    if annotation is None:
        return "list" if isinstance(default, tuple) else type(default).__name__
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("collections.abc.", "").replace("typing.", "").replace("Sequence", "list")


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        target = fn.__init__ if inspect.isclass(fn) else fn
        return typing.get_type_hints(target)
    except Exception:  # unresolvable hints in a plugin: fall back to the defaults' types
        return {}


def check_params(
    kind: str, name: str, fn: Callable[..., Any], params: Mapping[str, Any], skip: int = 0
) -> None:
    """Check ``params`` against ``fn``'s signature (after its first ``skip`` parameters):
    unknown keys, missing required keys and values whose type differs from the default's."""
    signature = list(inspect.signature(fn).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature):
        return
    valid = {p.name: p.default for p in signature}
    hints = _hints(fn)
    for key, value in params.items():
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"unknown parameter '{key}' for {kind} '{name}'{hint} "
                f"(valid: {', '.join(valid) or 'none'})"
            )
        if not _type_fits(value, valid[key], hints.get(key)):
            raise ConfigError(
                f"{kind} '{name}': {key}={value!r} should be a "
                f"{_type_name(hints.get(key), valid[key])} like the default {valid[key]!r}"
            )
    missing = [k for k, d in valid.items() if d is inspect.Parameter.empty and k not in params]
    if missing:
        raise ConfigError(f"{kind} '{name}' needs the parameter(s): {', '.join(missing)}")


def check_settings(cfg: Any) -> None:
    """Ranges and choices of the fixed groups (their types are checked by the schema)."""
    one_of("optimizer.name", cfg.optimizer.name, OPTIMIZERS)
    at_least("optimizer.lr", cfg.optimizer.lr, 0.0, strict=True)
    at_least("optimizer.weight_decay", cfg.optimizer.weight_decay, 0.0)
    at_least("optimizer.momentum", cfg.optimizer.momentum, 0.0)
    one_of("trainer.accelerator", cfg.trainer.accelerator, ACCELERATORS)
    one_of("trainer.progress_bar", cfg.trainer.progress_bar, PROGRESS_BARS)
    if cfg.trainer.progress_bar == "rich" and importlib.util.find_spec("rich") is None:
        raise ConfigError(
            "trainer.progress_bar=rich needs the 'rich' package: pip install rich "
            "(or choose from: tqdm, none)"
        )
    one_of("logger.name", cfg.logger.name, LOGGERS)
    at_least("trainer.max_epochs", cfg.trainer.max_epochs, 0, strict=True)
    at_least("trainer.steps_per_call", cfg.trainer.steps_per_call, 0, strict=True)
    at_least("trainer.threads", cfg.trainer.threads, 0)
    at_least("trainer.checkpoint_interval_s", cfg.trainer.checkpoint_interval_s, 0)
    at_least("trainer.log_every_n_steps", cfg.trainer.log_every_n_steps, 0, strict=True)
    at_least("logger.figures_every_n_epochs", cfg.logger.figures_every_n_epochs, 0)
    at_least("data.batch_size", cfg.data.batch_size, 0, strict=True)
    at_least("data.eval_batch_size", cfg.data.eval_batch_size, 0)


def _defaults(fn: Callable[..., Any], skip: int, leave_out: tuple[str, ...]) -> dict[str, Any]:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    plain = (bool, int, float, str, list, tuple, type(None))
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in params
        if p.name not in leave_out
        and p.default is not inspect.Parameter.empty
        and isinstance(p.default, plain)
    }


def store_registry_options(config_module: str) -> None:
    """A config option for every registered dataset, model and loss that has no YAML file
    (a plugin's, typically): its keys are the entry's parameters with their defaults."""
    from importlib.resources import files

    from nnkit.data.dataset import DATASETS
    from nnkit.losses import LOSSES
    from nnkit.models import MODELS

    store = ConfigStore.instance()
    groups = [
        ("data", DATASETS, 0, {"batch_size": 32, "eval_batch_size": 0}),
        ("model", MODELS, 2, {}),
        ("loss", LOSSES, 0, {}),
    ]
    for group, registry, skip, extra in groups:
        folder = files(config_module).joinpath(group)
        for name in registry.names():
            if not folder.joinpath(f"{name}.yaml").is_file():
                node = {"name": name, **_defaults(registry.get(name), skip, ("backend",)), **extra}
                store.store(group=group, name=name, node=node)

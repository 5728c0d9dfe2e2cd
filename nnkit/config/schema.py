"""The typed configuration: a schema for every group, checked before any work starts.

Fixed groups (``trainer``, ``logger``, ``plugin_loading``) are dataclasses in Hydra's
ConfigStore, so a typo'd key or a wrong type fails while the config is composed. Registry-backed
groups (``model``, ``data``, ``loss``, ``optimizer``, ``scheduler``) name an entry; their other
keys are that entry's parameters and are checked against its signature, so plugins are validated
the same way as built-ins. Optimizers also get a typed schema made from their signature.

>>> at_least("optimizer.lr", 0.0, 0.0, strict=True)
Traceback (most recent call last):
...
nnkit.errors.ConfigError: optimizer.lr=0.0 is out of range (valid: optimizer.lr > 0.0)
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import ListConfig

from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.renamed import renamed_hint
from nnkit.config.signature import typed_schema
from nnkit.errors import ConfigError
from nnkit.maths.regularization import KINDS as REGULARIZATIONS
from nnkit.optimizers.schedulers import INTERVALS
from nnkit.plugins import LoadingPolicy
from nnkit.registry import did_you_mean

__all__ = ["ConfigError", "check_settings", "store_schemas"]

ACCELERATORS = ("auto", "cpu", "gpu")

COMPILE_CHOICES = ("auto", "native", "inductor", "true", "false")
PROGRESS_BARS = ("tqdm", "rich", "none")
EPOCH_LOOPS = ("auto", "engine", "lightning")
LOGGERS = ("tensorboard", "csv", "none")


@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto (CUDA when present), cpu or gpu
    devices: Any = "auto"  # how many devices, or "auto"
    num_nodes: int = 1  # machines, for DDP on a cluster
    strategy: str = "auto"  # auto, ddp, ddp_spawn, ...
    max_epochs: int = 100  # epochs to train
    max_steps: int = -1  # optimizer steps to train; -1: no limit
    steps_per_call: int = 64  # optimizer steps (minibatches) per Lightning training call
    threads: int = 1  # CPU threads for torch; 1 suits small models; 0 keeps torch's default
    progress_bar: str = "tqdm"  # tqdm, rich or none
    deterministic: bool = True  # bit-identical reruns on CPU
    log_every_n_steps: int = 50  # how often step-level scalars are written
    check_val_every_n_epoch: int = 1  # validation frequency
    precision: str = "32-true"  # Lightning precision
    checkpoint_interval_s: float = 10.0  # last.ckpt at epoch ends at most this often; 0: every
    early_stopping_patience: int = 0  # stop after this many validations without a better
    # objective; 0: off
    fast_dev_run: Any = False  # Lightning's smoke test: true (or N) runs N batches, writes nothing
    overfit_batches: float = 0.0  # train (and validate) on this many batches (or this fraction)
    replicas: int = 1  # networks trained at once, with seeds seed, seed+1, ... (one program)
    compile: str = "auto"  # how the hand-derived step runs: auto, native (nnkit's C++ program),
    # inductor (torch.compile; true is its older name) or false (eager)
    epoch_loop: str = "auto"  # who runs the data epochs: engine (many per Lightning call, at
    # the step's own speed), lightning (one per call, every Lightning hook), auto (where it pays)


@dataclass
class LoggerConfig:
    name: Any = "tensorboard"  # tensorboard, csv or none, or a list: [tensorboard, csv]
    figures_every_n_epochs: int = 0  # figures also every N epochs; 0: only at the end
    figures: bool = True  # decision boundary, fitted curve or confusion matrix


@dataclass
class RegularizationConfig:
    kind: str = "none"  # the weights' penalty: none, l1 (rate · Σ|w|) or l2 (rate · Σw²/2)
    rate: float = 0.0  # its weight in the cost, >= 0; the biases are not penalised


@dataclass
class NNKitConfig:
    seed: int = 0  # seeds Python, numpy and torch; datasets take their own seed
    plugins: list[str] = field(default_factory=list)  # modules or .py files to import first
    plugin_loading: LoadingPolicy = field(default_factory=LoadingPolicy)
    ckpt_path: Any = None  # checkpoint to resume from; "last" resumes the run folder's last
    objective: Any = "auto"  # what best.ckpt is chosen by and a sweep optimizes; a list
    # ([val/acc, val/loss]) gives a multi-objective search every value, best.ckpt the first
    model: Any = None  # a MODELS entry: its option (model=mlp) and that option's keys
    data: Any = None  # a DATASETS entry (data=circular), or your own file (data=csv)
    loss: Any = None  # a LOSSES entry, or auto: the task's own
    optimizer: Any = None  # an OPTIMIZERS entry (optimizer=adam) and its typed settings
    scheduler: Any = None  # a SCHEDULERS entry: how the learning rate moves (scheduler=cosine)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)


def store_schemas() -> None:
    """Register the schemas in Hydra's ConfigStore (``train.yaml`` lists them first), with a
    typed schema for every registered optimizer (``schema/optimizer/NAME``)."""
    store = ConfigStore.instance()
    store.store(name="nnkit_schema", node=NNKitConfig)
    store.store(name="trainer_schema", node=TrainerConfig)
    store.store(name="logger_schema", node=LoggerConfig)
    optimizers = CONFIG_GROUPS["optimizer"]
    for name in optimizers.registry.names():
        schema = typed_schema(name, optimizers.registry.get(name), optimizers.skip)
        store.store(group="schema/optimizer", name=name, node=schema)


def one_of(key: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        hint = did_you_mean(str(value), choices)
        raise ConfigError(f"{key}={value!r} is not valid{hint} (choose from: {', '.join(choices)})")


def at_least(
    key: str, value: float, low: float, strict: bool = False, integer: bool = False
) -> None:
    """Raise ``ConfigError`` unless ``value`` is a finite number (a whole one if ``integer``)
    and ``value >= low`` (``> low`` when ``strict``)."""
    kinds = int if integer else int | float
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} should be {'an integer' if integer else 'a number'}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}={value} should be a finite number")
    if (value <= low) if strict else (value < low):
        raise ConfigError(
            f"{key}={value} is out of range (valid: {key} {'>' if strict else '>='} {low})"
        )


MAX_SEED = 2**32 - 1  # the widest range every generator (Python, numpy, torch) accepts
MAX_REPLICAS = 100_000


@dataclass(frozen=True)
class Range:
    """The valid values of a number setting: ``>= low`` (``> low`` when ``strict``), at most
    ``high``, whole when ``integer``.

    >>> Range(0, strict=True, integer=True).text()
    'an integer > 0'
    """

    low: float
    strict: bool = False
    integer: bool = False
    high: float | None = None

    def check(self, key: str, value: Any) -> None:
        at_least(key, value, self.low, self.strict, self.integer)
        if self.high is not None:
            at_most(key, value, self.high)

    def text(self) -> str:
        bound = f"{'>' if self.strict else '>='} {self.low}"
        upper = f" and <= {self.high}" if self.high is not None else ""
        return f"{'an integer' if self.integer else 'a number'} {bound}{upper}"


RANGES: dict[str, Range] = {  # every number setting with a fixed range (checked, documented)
    "optimizer.lr": Range(0.0, strict=True),
    "optimizer.weight_decay": Range(0.0),
    "optimizer.momentum": Range(0.0),
    "trainer.max_epochs": Range(0, strict=True),
    "trainer.steps_per_call": Range(0, strict=True),
    "trainer.threads": Range(0, integer=True),  # and at most the machine's cores
    "seed": Range(0, integer=True, high=MAX_SEED),
    "data.seed": Range(0, integer=True, high=MAX_SEED),
    "trainer.checkpoint_interval_s": Range(0),
    "trainer.early_stopping_patience": Range(0, integer=True),
    "trainer.overfit_batches": Range(0),
    "trainer.log_every_n_steps": Range(0, strict=True),
    "trainer.replicas": Range(0, strict=True, integer=True, high=MAX_REPLICAS),
    "logger.figures_every_n_epochs": Range(0),
    "plugin_loading.timeout_s": Range(0),
    "plugin_loading.proof_timeout_s": Range(0),
    "data.batch_size": Range(0, strict=True, integer=True),
    "data.eval_batch_size": Range(0, integer=True),
    "regularization.rate": Range(0),
    "scheduler.total": Range(0, integer=True),
    "scheduler.step_size": Range(0, strict=True, integer=True),
    "scheduler.warmup": Range(0, strict=True, integer=True),
    "scheduler.gamma": Range(0, strict=True),
    "scheduler.patience": Range(0, integer=True),
}
CHOICES: dict[str, tuple[str, ...]] = {  # every setting that names one of a few choices
    "trainer.accelerator": ACCELERATORS,
    "trainer.progress_bar": PROGRESS_BARS,
    "trainer.compile": COMPILE_CHOICES,
    "trainer.epoch_loop": EPOCH_LOOPS,
    "logger.name": LOGGERS,
    "regularization.kind": REGULARIZATIONS,
    "scheduler.interval": INTERVALS,
}


def at_most(key: str, value: float, high: float) -> None:
    """Raise ``ConfigError`` if ``value > high`` (call after ``at_least``)."""
    if value > high:
        raise ConfigError(f"{key}={value} is out of range (valid: {key} <= {high})")


def check_settings(cfg: Any) -> None:
    """Ranges and choices of the settings (their types are checked by the schema), and no
    top-level key the schema does not have (``+key=...`` would add one)."""
    known = [name for name in NNKitConfig.__dataclass_fields__]
    for key in cfg:
        if key not in known:
            hint = renamed_hint(f"'{key}'") or did_you_mean(str(key), known)
            raise ConfigError(f"unknown setting '{key}'{hint} (valid: {', '.join(known)})")
    if cfg.ckpt_path is not None and not (isinstance(cfg.ckpt_path, str) and cfg.ckpt_path):
        raise ConfigError(f"ckpt_path={cfg.ckpt_path!r} should be a checkpoint file or 'last'")
    for key, valid in RANGES.items():
        section, _, name = key.rpartition(".")
        node = cfg.get(section) if section else cfg
        if node is not None and name in node:
            valid.check(key, node[name])
    at_most("trainer.threads", cfg.trainer.threads, os.cpu_count() or 1)
    at_most("seed", cfg.seed + cfg.trainer.replicas - 1, MAX_SEED)
    for key, choices in CHOICES.items():
        section, _, name = key.rpartition(".")
        value = cfg[section][name]
        values = list(value) if isinstance(value, list | ListConfig) else [value]  # logger.name
        for each in values or ["(empty list)"]:
            one_of(key, compile_choice(each) if key == "trainer.compile" else each, choices)
    check_devices(cfg.trainer.accelerator, cfg.trainer.devices)
    if cfg.trainer.progress_bar == "rich" and importlib.util.find_spec("rich") is None:
        raise ConfigError(
            "trainer.progress_bar=rich needs the 'rich' package: pip install rich "
            "(or choose from: tqdm, none)"
        )
    if not isinstance(cfg.trainer.fast_dev_run, bool):
        at_least("trainer.fast_dev_run", cfg.trainer.fast_dev_run, 0, integer=True)


def compile_choice(setting: Any) -> str:
    """``trainer.compile`` as one of ``COMPILE_CHOICES`` (YAML's true/false arrive as booleans).

    >>> compile_choice(True), compile_choice("auto")
    ('true', 'auto')
    """
    return str(setting).lower()


def check_devices(accelerator: str, devices: Any) -> None:
    """``trainer.devices``: "auto", a count >= 1, or a list of GPU ids; on the CPU, at most one
    process per core (each device there is a training process)."""
    if devices == "auto" or (accelerator == "gpu" and (isinstance(devices, list) or devices == -1)):
        return  # every GPU (-1), or these GPU ids
    at_least("trainer.devices", devices, 0, strict=True, integer=True)
    import torch

    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    cores = os.cpu_count() or 1
    if on_cpu and devices > max(cores, 2):
        raise ConfigError(
            f"trainer.devices={devices} would start {devices} CPU training processes on a "
            f"machine with {cores} cores (valid: 1..{max(cores, 2)}, or auto)"
        )


def _defaults(fn: Callable[..., Any], skip: int) -> dict[str, Any]:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    plain = (bool, int, float, str, list, tuple, type(None))
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in params
        if p.default is not inspect.Parameter.empty and isinstance(p.default, plain)
    }


def store_registry_options(config_module: str) -> None:
    """A config option for every registered entry of a registry-backed group that has no YAML
    file (a plugin's, typically): its keys are the entry's parameters with their defaults."""
    from importlib.resources import files

    store = ConfigStore.instance()
    for group_name, group in CONFIG_GROUPS.items():
        folder = files(config_module).joinpath(group_name)
        for name in group.registry.names():
            if folder.joinpath(f"{name}.yaml").is_file():
                continue
            fn = group.registry.get(name)
            if group_name == "optimizer":
                node: Any = typed_schema(name, fn, group.skip)
            else:
                node = {"name": name, **_defaults(fn, group.skip), **group.reserved}
            store.store(group=group_name, name=name, node=node)

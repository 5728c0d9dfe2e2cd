"""The sweeper's config, key for key that of ``hydra-optuna-sweeper`` (so its presets and a
lightning-hydra-template search port unchanged), plus what current Optuna adds: a pruner,
heartbeats and retries for shared studies.

Registered in Hydra's ConfigStore as ``hydra/sweeper=optuna``, with the groups
``hydra/sweeper/sampler`` (tpe, random, cmaes, nsgaii, nsgaiii, qmc, gp, grid, motpe) and
``hydra/sweeper/pruner`` (none, median, percentile, successive_halving, hyperband,
threshold, wilcoxon). Nothing here imports Optuna: Hydra reads it at every start.

>>> store_configs()
>>> from hydra.core.config_store import ConfigStore
>>> sorted(ConfigStore.instance().list("hydra/sweeper/pruner"))[:3]
['hyperband.yaml', 'median.yaml', 'none.yaml']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER = "hydra_plugins.nnkit_optuna_sweeper.optuna_sweeper.OptunaSweeper"
FORMER_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
TRIAL_VARIABLE = "NNKIT_OPTUNA_TRIAL"  # the job's trial id, set by the sweeper per job


@dataclass
class TPESamplerConfig:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    consider_prior: bool | None = None  # None: Optuna's own default
    prior_weight: float | None = None
    consider_magic_clip: bool | None = None
    consider_endpoints: bool | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool | None = None
    group: bool = False
    warn_independent_sampling: bool | None = None
    constant_liar: bool = True  # trials running in parallel are not sampled twice


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class CmaEsSamplerConfig:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    x0: dict[str, Any] | None = None
    sigma0: float | None = None
    n_startup_trials: int = 1
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: str | None = None
    popsize: int | None = None
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False


@dataclass
class NSGAIISamplerConfig:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: int | None = None
    population_size: int = 50
    mutation_prob: float | None = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class NSGAIIISamplerConfig(NSGAIISamplerConfig):
    _target_: str = "optuna.samplers.NSGAIIISampler"
    dividing_parameter: int = 3


@dataclass
class QMCSamplerConfig:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: int | None = None
    qmc_type: str = "sobol"
    scramble: bool = False
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


@dataclass
class GPSamplerConfig:
    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    warn_independent_sampling: bool = True


@dataclass
class GridSamplerConfig:
    """The grid is every combination of the search space's choices and ranges (filled in by
    the sweeper); ``n_trials`` is cut to its size."""

    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True
    seed: int | None = None


@dataclass
class NopPrunerConfig:
    """No pruning: every trial runs to its end (its per-epoch objective is still reported)."""

    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that run to the end before any is pruned
    n_warmup_steps: int = 0  # epochs of a trial before it may be pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class PercentilePrunerConfig(MedianPrunerConfig):
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = 25.0  # pruned below this percentile of the others at the same epoch


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"  # epochs before the first rung
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # epochs of a full trial; auto: learnt from the first trial
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPrunerConfig:
    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class WilcoxonPrunerConfig:
    _target_: str = "optuna.pruners.WilcoxonPruner"
    p_threshold: float = 0.1
    n_startup_steps: int = 2


@dataclass
class OptunaSweeperConf:
    _target_: str = SWEEPER
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING  # hydra/sweeper/sampler=tpe|random|cmaes|... or a _target_ of its own
    pruner: Any = MISSING  # hydra/sweeper/pruner=none|median|successive_halving|hyperband|...
    direction: Any = "minimize"  # minimize or maximize, or a list of them (multi-objective)
    storage: Any = None  # None: in memory; sqlite:///file.db or postgresql://user@host/db
    study_name: str | None = None
    n_trials: int = 20  # trials this sweep adds to the study
    n_jobs: int = 2  # trials launched at once (one launcher batch)
    max_failure_rate: float = 0.0  # failed share of a batch beyond which the sweep stops
    search_space: dict[str, Any] | None = None  # the older form: {key: {type, low, high, ...}}
    params: dict[str, str] | None = None  # {key: "interval(0.001, 0.1)" | "choice(...)" | ...}
    custom_search_space: str | None = None  # a callable(cfg, trial) that suggests more
    heartbeat_interval: int | None = None  # seconds; a database study notices killed workers
    grace_period: int | None = None  # seconds without a heartbeat before a trial is FAILED
    retry_failed_trials: int = 0  # a FAILED trial of a killed worker runs again this often


SAMPLERS = {
    "tpe": TPESamplerConfig,
    "random": RandomSamplerConfig,
    "cmaes": CmaEsSamplerConfig,
    "nsgaii": NSGAIISamplerConfig,
    "nsgaiii": NSGAIIISamplerConfig,
    "qmc": QMCSamplerConfig,
    "gp": GPSamplerConfig,
    "grid": GridSamplerConfig,
    "motpe": TPESamplerConfig,  # Optuna 4 folded MOTPESampler into TPESampler
}
PRUNERS = {
    "none": NopPrunerConfig,
    "median": MedianPrunerConfig,
    "percentile": PercentilePrunerConfig,
    "successive_halving": SuccessiveHalvingPrunerConfig,
    "hyperband": HyperbandPrunerConfig,
    "threshold": ThresholdPrunerConfig,
    "wilcoxon": WilcoxonPrunerConfig,
}


def store_configs() -> None:
    """Register ``hydra/sweeper=optuna`` and its sampler and pruner groups."""
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="nnkit")
    for name, sampler in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=sampler, provider="nnkit")
    for name, pruner in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=pruner, provider="nnkit")

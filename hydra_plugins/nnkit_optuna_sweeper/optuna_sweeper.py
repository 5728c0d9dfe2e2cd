"""The Hydra plugin: ``OptunaSweeper``, with ``hydra-optuna-sweeper``'s config keys (and a
pruner, heartbeats and retries), on current Optuna. Hydra imports this module at start-up,
so it registers the configs and imports Optuna only when a sweep is made."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from nnkit.search.config import store_configs

store_configs()


class OptunaSweeper(Sweeper):
    """Searches ``hydra.sweeper.params`` (and the line's sweeps) with an Optuna study."""

    def __init__(self, **settings: Any) -> None:
        from nnkit.search.sweeper import OptunaSearch

        self.search = OptunaSearch(**settings)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        self.search.sweep(arguments)

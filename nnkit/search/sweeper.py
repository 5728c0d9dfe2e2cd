"""Optuna's ask-and-tell loop under Hydra: ask the study for a batch of ``n_jobs`` trials,
launch them as jobs through Hydra's launcher, tell the study how each ended (COMPLETE with its
objective, PRUNED where the job's pruner stopped it, FAILED otherwise), until ``n_trials``
have run; then ``optimization_results.yaml`` in the sweep folder.

Used through ``hydra/sweeper=optuna`` (``hydra_plugins.nnkit_optuna_sweeper``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nnkit.errors import ConfigError
from nnkit.search.checks import check_search, directions
from nnkit.search.config import TRIAL_VARIABLE
from nnkit.search.space import grid, sweeper_space
from nnkit.search.study import IN_PROCESS, Heartbeats, fail_stale_trials, retried, storage
from nnkit.search.trial import trial_tag

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
MAXIMIZE, MINIMIZE = optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE


class OptunaSearch:
    """The sweeper's work, with ``hydra.sweeper``'s keys as arguments (see ``config``)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.sampler = settings["sampler"]
        self.directions = directions(settings["direction"])
        extender = settings.get("custom_search_space")
        self.extend: Callable[[DictConfig, optuna.Trial], None] | None = (
            instantiate({"_target_": extender, "_partial_": True}) if extender else None
        )

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        launcher = type(self.launcher).__name__
        check_search(config.hydra.sweeper, launcher, len(self.directions))
        self.job_idx = 0

    def sweep(self, arguments: list[str]) -> None:
        space, fixed = sweeper_space(self.settings, arguments)
        n_trials = self.settings["n_trials"]
        if isinstance(self.sampler, functools.partial):  # the grid sampler, made here
            choices = grid(space)
            self.sampler = self.sampler(choices)
            n_trials = min(n_trials, _grid_size(choices))
        study = self._study()
        done = self._run(study, space, fixed, n_trials)
        _write_results(study, self.directions, f"{self.config.hydra.sweep.dir}")
        log.info(f"Trials of this sweep: {_counts(done)}")

    def _study(self) -> optuna.Study:
        s = self.settings
        store = storage(
            s["storage"], s["heartbeat_interval"], s["grace_period"], s["retry_failed_trials"]
        )
        directions = [MAXIMIZE if d == "maximize" else MINIMIZE for d in self.directions]

        def create() -> optuna.Study:
            return optuna.create_study(
                study_name=s["study_name"],
                storage=store,
                sampler=self.sampler,
                pruner=s.get("pruner"),  # Hydra instantiated it (and the sampler) already
                directions=directions,
                load_if_exists=True,
            )

        study = retried(create, "creating the study")
        if s["storage"] is None:  # one sweep at a time in a process: the latest study
            IN_PROCESS.clear()
            IN_PROCESS[study.study_name] = study
        log.info(
            f"Study {study.study_name} in {s['storage'] or 'memory'}: "
            f"{type(self.sampler).__name__}, {type(study.pruner).__name__}, "
            f"directions {self.directions}"
        )
        return study

    def _run(
        self, study: optuna.Study, space: dict, fixed: dict, n_trials: int
    ) -> list[TrialState]:
        ended: list[TrialState] = []
        while len(ended) < n_trials:
            fail_stale_trials(study)
            size = min(self.settings["n_jobs"], n_trials - len(ended))
            trials = [retried(lambda: study.ask(space), "asking for a trial") for _ in range(size)]
            overrides = [self._overrides(study, trial, fixed) for trial in trials]
            with Heartbeats(study, [t._trial_id for t in trials]):
                returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            states = [self._tell(study, t, r) for t, r in zip(trials, returns)]
            ended += states
            failed = states.count(TrialState.FAIL)
            if failed / len(states) > self.settings["max_failure_rate"]:
                log.error(f"Failed {failed} times out of {len(states)} with "
                          f"max_failure_rate={self.settings['max_failure_rate']}.")  # fmt: skip
                for job in returns:
                    _ = job.return_value  # raises the first failure with its traceback
        return ended

    def _overrides(self, study: optuna.Study, trial: optuna.Trial, fixed: dict) -> list[str]:
        def record_fixed() -> None:
            for key, value in fixed.items():
                trial.set_user_attr(key, value)

        retried(record_fixed, "recording the fixed settings")
        if self.extend is not None:
            self.extend(self.config, trial)
        overlap = trial.params.keys() & fixed.keys()
        if overlap:
            raise ConfigError(f"these keys are both fixed and searched: {sorted(overlap)}")
        line = [f"{k}={v}" for k, v in {**trial.params, **fixed}.items()]
        tag = trial_tag(study._study_id, trial._trial_id)
        return [*line, f"++hydra.job.env_set.{TRIAL_VARIABLE}='{tag}'"]

    def _tell(self, study: optuna.Study, trial: optuna.Trial, job: Any) -> TrialState:
        if isinstance(job._return_value, optuna.TrialPruned):
            return _record(study, trial, None, TrialState.PRUNED)
        try:
            values = _values(job.return_value, len(self.directions))
        except Exception as error:
            log.warning(f"Failed experiment: {error}")
            return _record(study, trial, None, TrialState.FAIL)
        return _record(study, trial, values, TrialState.COMPLETE)


def _record(
    study: optuna.Study, trial: optuna.Trial, values: list[float] | None, state: TrialState
) -> TrialState:
    """Tell the study how ``trial`` ended (once: a retry after a lost answer changes nothing).
    The grid sampler stops the study after its last point, by raising once it is recorded."""

    def tell() -> None:
        try:
            study.tell(trial, values, state, skip_if_finished=True)
        except RuntimeError as error:
            if "Study.stop" not in str(error):
                raise

    retried(tell, f"recording a {state.name} trial")
    return state


def _values(returned: Any, objectives: int) -> list[float]:
    if objectives == 1:
        try:
            return [float(returned)]
        except (TypeError, ValueError):
            raise ValueError(f"Return value must be float-castable. Got '{returned}'.") from None
    try:
        values = [float(v) for v in returned]
    except (TypeError, ValueError):
        raise ValueError(f"Return value must be a list of {objectives} floats. Got "
                         f"'{returned}'.") from None  # fmt: skip
    if len(values) != objectives:
        raise ValueError(f"{len(values)} values returned for {objectives} objectives")
    return values


def _grid_size(choices: dict[str, list[Any]]) -> int:
    size = 1
    for values in choices.values():
        size *= len(values)
    return size


def _counts(states: list[TrialState]) -> str:
    names = ("COMPLETE", "PRUNED", "FAIL")
    return f"{len(states)} (" + ", ".join(
        f"{sum(s.name == n for s in states)} {n.lower()}" for n in names) + ")"  # fmt: skip


def _write_results(study: optuna.Study, directions: list[str], sweep_dir: str) -> None:
    """``optimization_results.yaml``: the best parameters and value (the Pareto front for
    several objectives), as hydra-optuna-sweeper writes it, with the trials' states counted."""
    trials = study.get_trials(deepcopy=False)
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    results: dict[str, Any] = {"name": "optuna", "study": study.study_name, "trials": states}
    if states["complete"] and len(directions) == 1:
        best = study.best_trial
        results |= {"best_params": best.params, "best_value": best.value}
        log.info(f"Best parameters: {best.params}")
        log.info(f"Best value: {best.value}")
    elif states["complete"]:
        front = study.best_trials
        results["solutions"] = [{"params": t.params, "values": t.values} for t in front]
        log.info(f"Number of Pareto solutions: {len(front)}")
    OmegaConf.save(OmegaConf.create(results), f"{sweep_dir}/optimization_results.yaml")

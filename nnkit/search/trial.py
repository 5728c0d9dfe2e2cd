"""The job's side of a search: the Optuna trial it runs as, found from what the sweeper set
in its environment (``NNKIT_OPTUNA_TRIAL``) and Hydra's config of the sweep.

The job reports its validation objective every epoch (the dashboard's intermediate values),
asks the study's pruner whether to go on, and records its run folder and command line on the
trial. Outside a search ``current_trial()`` is None and nothing imports Optuna.

>>> current_trial() is None
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnkit.search.config import TRIAL_VARIABLE


@dataclass
class TrialLink:
    """One running trial of a study, as its job sees it."""

    trial: Any  # optuna.Trial

    @property
    def number(self) -> int:
        return int(self.trial.number)

    def report(self, value: float, epoch: int) -> bool:
        """Report the objective after ``epoch``; whether the pruner stops the trial here.
        (A multi-objective study takes no intermediate values: Optuna cannot prune it.)"""
        from nnkit.search.study import retried

        if len(self.trial.study.directions) > 1:
            return False
        retried(lambda: self.trial.report(value, epoch), "reporting the objective")
        return bool(retried(self.trial.should_prune, "asking the pruner"))

    def describe(self, run_dir: Path) -> None:
        """Record on the trial where its run lives and the line that runs it again."""
        from hydra.core.hydra_config import HydraConfig

        from nnkit.search.study import retried

        line = [o for o in HydraConfig.get().overrides.task if not o.startswith("++hydra.")]
        command = " ".join(["python -m nnkit.train", *line, f"hydra.run.dir={run_dir}"])
        retried(lambda: self.trial.set_user_attr("run_dir", str(run_dir)), "describing")
        retried(lambda: self.trial.set_user_attr("command", command), "describing")


def trial_tag(study_id: int, trial_id: int) -> str:
    """The value the sweeper sets in a job's environment.

    >>> trial_tag(1, 12)
    '1:12'
    """
    return f"{study_id}:{trial_id}"


def current_trial() -> TrialLink | None:
    """The trial this job runs as, or None outside a search (or when its study is in another
    process's memory, which the sweeper refuses where it would matter: pruning)."""
    tag = os.environ.get(TRIAL_VARIABLE)
    if not tag:
        return None
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    study = _study(HydraConfig.get().sweeper, int(tag.split(":")[0]))
    if study is None:
        return None
    import optuna

    from nnkit.search.study import retried

    trial_id = int(tag.split(":")[1])
    return TrialLink(retried(lambda: optuna.trial.Trial(study, trial_id), "joining the trial"))


def _study(sweeper: Any, study_id: int) -> Any:
    from hydra.utils import instantiate

    from nnkit.search.study import IN_PROCESS, retried, storage

    url = sweeper.get("storage")
    if url is None:
        return next((s for s in IN_PROCESS.values() if s._study_id == study_id), None)
    import optuna

    store = optuna.storages.get_storage(storage(url, None, None, 0))
    pruner = instantiate(sweeper.pruner) if sweeper.get("pruner") else None
    name = retried(lambda: store.get_study_name_from_id(study_id), "loading the study")
    return retried(
        lambda: optuna.load_study(study_name=name, storage=store, pruner=pruner), "loading"
    )

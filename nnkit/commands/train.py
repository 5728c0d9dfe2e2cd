"""The command line of the main job: ``python -m nnkit.train`` and ``nnkit-train``.

Before Hydra starts anything, the override line is checked, the first job's config is composed
and ``prepare``d (validated, its data and network built, its checkpoint checked): a user's
mistake ends here with one line and exit code 2, and no run folder is created or touched. What
was prepared is handed to the job whose config it is, so nothing is built twice. The run (or
sweep) folder is pinned, so that Hydra, Lightning's DDP workers and the sweep summary all use
the same one.

Exit codes: 0 done, 1 training diverged or a write was refused during the run (no space, no
permission), 2 bad input (a run folder that cannot be written included), 130 interrupted by
Ctrl-C and 143 by SIGTERM (a checkpoint was saved either way). A multirun records a failed job
and goes on; it exits 0 when at least one job succeeded, 1 when every job failed.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nnkit.config.compose import CONFIG_MODULE, register_options
from nnkit.errors import (
    USER_ERRORS,
    ConfigError,
    DivergenceError,
    ObjectiveError,
    RunInterrupted,
    StorageError,
    say_notices,
)
from nnkit.runs.launch import Launch, complete_slurm_env, current
from nnkit.runs.lock import run_lock
from nnkit.runs.storage import os_reason
from nnkit.training.preflight import is_multirun, preflight

JOB_FAILURES: tuple[type[Exception], ...] = (
    *USER_ERRORS,
    DivergenceError,
    StorageError,
    ObjectiveError,
)
HELP_FLAGS = (
    "--help",
    "-h",
    "--hydra-help",
    "--info",
    "-i",
    "--cfg",
    "-c",
    "--shell-completion",
    "-sc",
    "--resolve",
)


def fail(message: str, code: int, program: str = "nnkit.train") -> None:
    """Print one line to stderr and exit with ``code`` (with ``HYDRA_FULL_ERROR=1``, the
    traceback of the error being handled first)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        traceback.print_exc()
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(code)


def _asks_for_help(argv: Sequence[str]) -> bool:
    return any(arg in HELP_FLAGS or arg.startswith("--info") for arg in argv)


def _sweeper_setup(full: DictConfig) -> list[str]:
    """Register nnkit's Optuna sweeper with Hydra; the override that points a config written
    for hydra-optuna-sweeper at it."""
    from nnkit.search.plugin import register, retarget

    register()
    return retarget(str(full.hydra.sweeper.get("_target_", "")))


def _pin_folders(argv: list[str], full: DictConfig) -> tuple[list[str], Path]:
    """Add explicit run and sweep folders (resolved once, here) unless the user gave them."""
    given = {a.split("=", 1)[0] for a in argv}
    run_dir, sweep_dir = Path(full.hydra.run.dir), Path(full.hydra.sweep.dir)
    pinned = list(argv)
    if "hydra.run.dir" not in given:
        pinned.append(f"hydra.run.dir={run_dir}")
    if "hydra.sweep.dir" not in given:
        pinned.append(f"hydra.sweep.dir={sweep_dir}")
    return pinned, sweep_dir


def make_task(prepared: Any) -> Callable[[DictConfig], float | list[float] | None]:
    """Hydra's task function: trains one job, reusing ``prepared`` for the job whose config it
    was made from, and returns the job's objective (what Hydra's sweepers optimize).

    In a multirun, a job that fails (diverges, is refused, cannot write, ends without a finite
    objective) is recorded in its folder (``failure.json``) and returns no objective — Optuna
    marks the trial failed and samples on — instead of ending the whole sweep."""
    from nnkit.config.build import plain

    handed_over = [prepared] if prepared is not None else []

    def nnkit_train(cfg: DictConfig) -> float | list[float] | None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from nnkit.training.job import train

        hydra_cfg = HydraConfig.get()
        folder = Path(hydra_cfg.runtime.output_dir)
        ready = handed_over.pop() if handed_over and handed_over[0].config == plain(cfg) else None
        try:
            metrics = train(cfg, folder, ready)
            if "pruned" in metrics:
                raise pruned(metrics, hydra_cfg.job.num)
            return objective_value(metrics)
        except RunInterrupted as error:
            print(f"nnkit.train: {error}", file=sys.stderr)
            sys.exit(error.exit_code)
        except JOB_FAILURES as error:
            if hydra_cfg.mode != RunMode.MULTIRUN:
                fail(str(error), 2 if isinstance(error, USER_ERRORS) else 1)
            from nnkit.runs.sweep import record_failure

            record_failure(folder, error)
            print(f"nnkit.train: job {hydra_cfg.job.num} failed: {error}", file=sys.stderr)
            return None

    return nnkit_train


def pruned(metrics: dict[str, Any], job: int) -> Exception:
    """Optuna's ``TrialPruned`` for a job its pruner stopped (the sweeper tells the study)."""
    import optuna

    at = metrics["pruned"]
    line = f"job {job} (trial {at['trial']}) pruned after epoch {at['epoch']}: {at['value']:.4g}"
    print(f"nnkit.train: {line}", file=sys.stderr)
    return optuna.TrialPruned(line)


def objective_value(metrics: dict[str, Any]) -> float | list[float] | None:
    """The run's objective (a list of values for several objectives); a missing or
    non-finite one is an ``ObjectiveError``. Only the process that wrote the metrics (rank 0)
    has one to give."""
    objective = metrics.get("objective")
    if objective is None:
        return None
    objectives = metrics.get("objectives", [objective])
    for each in objectives:
        value = each["value"]
        if value is None or not math.isfinite(value):
            raise ObjectiveError(
                f"the objective {each['name']} is {value}: nothing for a sweeper to compare"
            )
    values = [each["value"] for each in objectives]
    return values if "objectives" in metrics else values[0]


def with_launch_folder(argv: list[str], launch: Launch) -> list[str]:
    """Under ``srun`` or ``torchrun`` every rank must name the same run folder: without an
    explicit ``hydra.run.dir``, it is ``runs/JOB`` (the job every rank shares), not a time
    each rank reads for itself."""
    given = any(a.split("=", 1)[0].lstrip("+") == "hydra.run.dir" for a in argv)
    if not launch.multi_process or given or is_multirun(argv):
        return list(argv)
    return [*argv, f"hydra.run.dir=runs/{launch.job}"]


def main() -> None:
    """The console entry point (``nnkit-train``, ``python -m nnkit.train``)."""
    import hydra

    complete_slurm_env()
    say_notices("nnkit.train")
    argv = with_launch_folder(sys.argv[1:], current())
    prepared, sweep_dir, folder, multirun = None, None, None, False
    if _asks_for_help(argv):
        register_options()
    else:
        try:
            full, prepared = preflight(argv)
        except USER_ERRORS as error:
            fail(str(error), 2)
        argv, sweep_dir = _pin_folders(argv, full)
        multirun = is_multirun(argv, full)
        if multirun:
            argv += _sweeper_setup(full)
        folder = sweep_dir if multirun else Path(full.hydra.run.dir)
        sys.argv[1:] = argv  # hydra.main reads its overrides from sys.argv alone
    task = make_task(prepared)
    with contextlib.ExitStack() as held:
        if folder is not None:
            try:
                held.enter_context(run_lock(folder))
            except ConfigError as error:
                fail(str(error), 2)
        hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name="train", version_base="1.3")(
            task
        )()
    if sweep_dir is not None and multirun:
        from nnkit.runs.sweep import summarize

        try:
            text, succeeded = summarize(sweep_dir)
        except OSError as error:
            fail(f"could not write the sweep summary {error.filename}: {os_reason(error)}", 1)
        print(text)
        if not succeeded:
            fail(f"every job of the sweep failed (see {sweep_dir / 'summary.md'})", 1)

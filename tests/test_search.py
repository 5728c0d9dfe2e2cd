"""nnkit's Optuna sweeper on current Optuna: the hydra-optuna-sweeper grammar and configs,
pruning, several objectives, the trials' reports in the study, and its refusals."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from omegaconf import OmegaConf

from tests.helpers import cli, main_exit, main_run

CIRCLE = ["data=circular", "data.n=200", "trainer.progress_bar=none", "logger=none"]
LR = "optimizer.lr=tag(log,interval(0.0001,0.3))"


def study(url: str) -> optuna.Study:
    (summary,) = optuna.get_all_study_summaries(url)
    return optuna.load_study(study_name=summary.study_name, storage=url)


def test_a_pruned_search_stops_hopeless_trials_and_each_reports_every_epoch(
    tmp_path, monkeypatch, capsys
):
    url = f"sqlite:///{tmp_path}/studies.db"
    code, out, err = main_run(
        ["-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=median",
         "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.direction=maximize",
         "hydra.sweeper.n_trials=6", "hydra.sweeper.sampler.seed=0", f"hydra.sweeper.storage={url}",
         LR, *CIRCLE, "trainer.max_epochs=8", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    trials = study(url).trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(trials) == 6 and pruned and len(complete) >= 2
    for trial in trials:  # what the dashboard plots: every epoch's objective, and where it ran
        epochs = 8 if trial in complete else max(trial.intermediate_values) + 1
        assert sorted(trial.intermediate_values) == list(range(epochs))
        folder = tmp_path / "sweep" / str(trial.number)
        assert trial.user_attrs["run_dir"] == str(folder)
        assert trial.user_attrs["command"].startswith("python -m nnkit.train optimizer.lr=")
        metrics = json.loads((folder / "metrics.json").read_text())
        assert (folder / "checkpoints" / "last.ckpt").exists()  # a pruned one keeps its last
        if trial in pruned:
            assert metrics["pruned"]["epoch"] == epochs - 1 < 7
            assert f"pruned after epoch {epochs - 1}" in err
    assert f"sweep summary (6 runs, {len(pruned)} pruned" in out
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert results.trials.pruned == len(pruned)
    assert results.best_value == max(t.value for t in complete)


def test_two_objectives_give_a_pareto_front(tmp_path, monkeypatch, capsys):
    code, _, err = main_run(
        ["-m", "hydra/sweeper=optuna", "hydra.sweeper.direction=[maximize,minimize]",
         "objective=[val/acc,val/loss]", "hydra.sweeper.n_trials=3", LR, *CIRCLE,
         "trainer.max_epochs=2", f"hydra.sweep.dir={tmp_path}"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert results.trials.complete == 3 and results.solutions
    metrics = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert [o["name"] for o in metrics["objectives"]] == ["val/acc", "val/loss"]
    values = [s["values"] for s in results.solutions]
    assert all(len(v) == 2 for v in values)


PARAMS_PRESET = """\
    # @package _global_
    defaults:
      - override /hydra/sweeper: optuna
    hydra:
      sweeper:
        _target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper
        storage: null
        study_name: null
        n_jobs: 1
        direction: maximize
        n_trials: 2
        sampler:
          _target_: optuna.samplers.TPESampler
          seed: 12345
          n_startup_trials: 10
        params:
          optimizer.lr: interval(0.0001, 0.1)
          data.batch_size: choice(16, 32)
    """
SPACE_PRESET = PARAMS_PRESET.replace(
    """        params:
          optimizer.lr: interval(0.0001, 0.1)
          data.batch_size: choice(16, 32)
""",
    """        search_space:
          data.batch_size:
            type: categorical
            choices: [16, 32]
          optimizer.lr:
            type: float
            low: 0.0001
            high: 0.2
""",
)


@pytest.mark.parametrize("preset", [PARAMS_PRESET, SPACE_PRESET], ids=["params", "search_space"])
def test_a_lightning_hydra_template_search_ports_unchanged(preset, tmp_path, monkeypatch, capsys):
    """Its preset names hydra-optuna-sweeper's class and TPE's settings; a project's own
    config folder (hydra.searchpath) holds it."""
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "template.yaml").write_text(textwrap.dedent(preset))
    code, _, err = main_run(
        ["-m", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "hparams_search=template",
         *CIRCLE, "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    configs = [OmegaConf.load(p) for p in sorted((tmp_path / "sweep").glob("*/config.yaml"))]
    assert len(configs) == 2 and {c.data.batch_size for c in configs} <= {16, 32}
    assert all(0.0001 <= c.optimizer.lr <= 0.2 for c in configs)
    results = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert results.trials.complete == 2


def test_the_grid_sampler_runs_every_combination_once(tmp_path, monkeypatch, capsys):
    code, _, err = main_run(
        ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=9",
         "model.hidden=choice(4,8)", "data.batch_size=range(16,48,16)", *CIRCLE,
         "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    configs = [OmegaConf.load(p) for p in sorted(tmp_path.glob("*/config.yaml"))]
    seen = sorted((c.model.hidden, c.data.batch_size) for c in configs)
    assert seen == [(4, 16), (4, 32), (8, 16), (8, 32)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (["hydra/sweeper/pruner=median", "hydra.sweeper.direction=[maximize,minimize]",
          "objective=[val/acc,val/loss]"], "Optuna prunes only single-objective studies"),
        (["hydra/sweeper/pruner=hyperband", "hydra/launcher=joblib"],
         "jobs in other processes report to the study through a database"),
        (["hydra.sweeper.direction=maximise"], "did you mean 'maximize'?"),
        (["hydra.sweeper.direction=[maximize,minimize]"], "give one direction per objective"),
        (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 should be an integer >= 1"),
        (["hydra/sweeper/sampler=grid", LR], "the grid sampler needs choices or ranges"),
    ],
    ids=["pruned-multi-objective", "pruned-elsewhere", "direction", "objectives", "trials",
         "grid"],
)  # fmt: skip
def test_settings_the_search_cannot_run_are_refused_before_it_starts(
    line, message, tmp_path, monkeypatch, capsys
):
    code, err = main_exit(["-m", "hydra/sweeper=optuna", *line, *CIRCLE,
                           f"hydra.sweep.dir={tmp_path / 's'}"], monkeypatch, capsys)  # fmt: skip
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "s").exists()


@pytest.mark.slow
def test_joblib_workers_report_to_a_sqlite_study_are_pruned_and_the_dashboard_shows_it(tmp_path):
    url = f"sqlite:///{tmp_path}/studies.db"
    result = cli(
        "nnkit.train", "-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=2", "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=6", "hydra.sweeper.direction=maximize",
        "hydra.sweeper.sampler.seed=3", f"hydra.sweeper.storage={url}", LR, *CIRCLE,
        "trainer.max_epochs=6", f"hydra.sweep.dir={tmp_path / 'sweep'}", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    trials = study(url).trials
    states = {t.state.name for t in trials}
    assert len(trials) == 6 and states <= {"COMPLETE", "PRUNED"} and "PRUNED" in states
    assert all(t.intermediate_values and "run_dir" in t.user_attrs for t in trials)
    with dashboard(url) as address:
        (summary,) = get(f"{address}/api/studies")["study_summaries"]
        shown = get(f"{address}/api/studies/{summary['study_id']}?after=0")
        importances = get(f"{address}/api/studies/{summary['study_id']}/param_importances")
    assert len(shown["trials"]) == 6 and shown["has_intermediate_values"]
    for trial in shown["trials"]:
        attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        assert attrs["run_dir"] == str(tmp_path / "sweep" / str(trial["number"]))
        assert attrs["command"].startswith("python -m nnkit.train ")
        assert len(trial["intermediate_values"]) >= 1
    assert {s["state"] for s in shown["trials"]} == {"Complete", "Pruned"}
    assert importances["param_importances"][0][0]["name"] == "optimizer.lr"


def get(address: str) -> dict:
    with urllib.request.urlopen(address, timeout=30) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def dashboard(url: str) -> Iterator[str]:
    """``optuna-dashboard`` serving the study in ``url`` on 127.0.0.1; its address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "optuna-dashboard"), url, "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    address = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                get(f"{address}/api/studies")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1][-2000:]
                time.sleep(0.2)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_search_tools_install_without_a_conflict():
    """optuna-dashboard (which needs a current Optuna) beside nnkit[sweep]: pip finds nothing
    broken in this environment."""
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert int(optuna.__version__.split(".")[0]) >= 4

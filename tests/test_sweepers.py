"""Hydra's own sweepers and launchers drive nnkit: a real Optuna search and a joblib launch."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from tests.helpers import cli, main_exit, main_run

TINY = [
    "data=circular",
    "data.n=200",
    "trainer.max_epochs=2",
    "trainer.progress_bar=none",
    "logger=none",
]


def jobs(folder) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/metrics.json"))]


@pytest.mark.slow
def test_the_optuna_preset_searches_and_the_summary_names_the_best_trial(tmp_path):
    result = cli(
        "nnkit.train", "-m", "hparams_search=optuna_circular", "hydra.sweeper.n_trials=3",
        *TINY, f"hydra.sweep.dir={tmp_path}", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    trials = jobs(tmp_path)
    assert len(trials) == 3 and all(t["objective"]["name"] == "val/acc" for t in trials)
    best = max(trials, key=lambda t: t["objective"]["value"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    chosen = next(j for j in summary["jobs"] if j["job"] == summary["best"])
    assert chosen["metrics"]["objective"]["value"] == best["objective"]["value"]
    optuna_best = (tmp_path / "optimization_results.yaml").read_text()
    assert f"{best['objective']['value']}"[:6] in optuna_best


def test_an_interval_sweep_reaches_the_sweeper_and_a_bad_objective_is_refused(
    tmp_path, monkeypatch, capsys
):
    code, _, err = main_run(
        ["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
         "optimizer.lr=tag(log,interval(0.001,0.1))", "scheduler=choice(cosine,warmup_cosine)",
         *TINY, f"hydra.sweep.dir={tmp_path}"],
        monkeypatch, capsys,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    assert len(jobs(tmp_path)) == 2
    for config in tmp_path.glob("*/config.yaml"):  # a group's option, searched like a number
        assert OmegaConf.load(config).scheduler.name in ("cosine", "warmup_cosine")
    code, err = main_exit(["objective=val/accc", f"hydra.run.dir={tmp_path / 'r'}"], monkeypatch,
                          capsys)  # fmt: skip
    assert code == 2 and "unknown objective 'val/accc'" in err
    assert "did you mean 'val/acc'?" in err and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_the_joblib_launcher_runs_jobs_in_parallel_into_the_pinned_folder(tmp_path):
    result = cli(
        "nnkit.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1",
        *TINY, f"hydra.sweep.dir={tmp_path}", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jobs(tmp_path)) == 2
    assert "sweep summary (2 runs" in result.stdout and (tmp_path / "summary.md").exists()


LINEAR = ["data=linear", "data.n=200", "trainer.max_epochs=2", "trainer.progress_bar=none",
          "logger=none", "optimizer=sgd"]  # fmt: skip


def test_a_diverging_job_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    code, out, err = main_run(["-m", "optimizer.lr=0.01,1e6,0.02", *LINEAR,
                               f"hydra.sweep.dir={tmp_path}"], monkeypatch, capsys)  # fmt: skip
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    assert "nnkit.train: job 1 failed: training diverged" in err
    assert "sweep summary (3 runs, 1 failed" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    failed = [job for job in summary["jobs"] if "failure" in job]
    assert [job["job"] for job in failed] == ["1"]
    assert "optimizer.lr=1000000.0" in failed[0]["overrides"]
    assert "optimizer.lr=1000000.0" in failed[0]["failure"]["reason"]
    assert summary["best"] in ("0", "2")
    lines = (tmp_path / "summary.md").read_text().splitlines()
    assert "| FAILED: training diverged: the loss became" in lines[-2]


@pytest.mark.slow
def test_an_optuna_search_marks_diverging_trials_failed_and_samples_on(tmp_path):
    result = cli("nnkit.train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3",
                 "hydra.sweeper.sampler.seed=1", "optimizer.lr=tag(log,interval(0.001,1e6))",
                 *LINEAR, f"hydra.sweep.dir={tmp_path}", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    failed = [job for job in summary["jobs"] if "failure" in job]
    assert len(summary["jobs"]) == 3 and 1 <= len(failed) < 3
    assert "Failed experiment" in result.stdout + result.stderr  # the sweeper marked it FAIL


def test_a_sweep_whose_every_job_fails_exits_1(tmp_path, monkeypatch, capsys):
    code, _, err = main_run(["-m", "optimizer.lr=1e6,1e7", *LINEAR,
                             f"hydra.sweep.dir={tmp_path}"], monkeypatch, capsys)  # fmt: skip
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("nnkit.train: error: every job of the sweep")


def test_a_single_run_still_exits_1_on_divergence(tmp_path, monkeypatch, capsys):
    code, err = main_exit([*LINEAR, "optimizer.lr=1e6", f"hydra.run.dir={tmp_path}"],
                          monkeypatch, capsys)  # fmt: skip
    assert code == 1 and err.startswith("nnkit.train: error: training diverged")


def test_the_sqlite_study_preset_keeps_the_study_in_a_file(tmp_path, monkeypatch, capsys):
    """The study outlives the sweep in nnkit-studies.db (that a second sweep continues a study
    is tested against PostgreSQL, tests/test_postgres.py: the same Optuna mechanism)."""
    import optuna

    monkeypatch.chdir(tmp_path)
    line = ["-m", "study=sqlite", "hydra.sweeper.study_name=kept", "hydra.sweeper.n_trials=1",
            "optimizer.lr=tag(log,interval(0.001,0.1))", *TINY,
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    code, _, err = main_run(line, monkeypatch, capsys)
    assert code == 0, err[-3000:]
    study = optuna.load_study(study_name="kept", storage=f"sqlite:///{tmp_path}/nnkit-studies.db")
    assert [t.state.name for t in study.trials] == ["COMPLETE"]


TEMPLATE_PRESET = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna
objective: val/acc
hydra:
  mode: MULTIRUN
  sweeper:
    _target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper
    n_trials: 2
    direction: maximize
    params:
      optimizer.lr: interval(0.001, 0.1)
"""


def test_a_search_preset_that_sets_multirun_itself_runs_without_m(tmp_path, monkeypatch, capsys):
    """lightning-hydra-template's presets say ``hydra.mode: MULTIRUN`` and name
    hydra-optuna-sweeper's class; they run as the template's README runs them, without -m."""
    (tmp_path / "conf" / "hparams_search").mkdir(parents=True)
    (tmp_path / "conf" / "hparams_search" / "template.yaml").write_text(TEMPLATE_PRESET)
    line = ["hparams_search=template", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", *TINY,
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    code, out, err = main_run(line, monkeypatch, capsys)
    assert code == 0, err[-3000:]
    assert len(jobs(tmp_path / "sweep")) == 2 and "| job |" in out

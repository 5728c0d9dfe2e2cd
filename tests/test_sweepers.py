"""Hydra's own sweepers and launchers drive nnkit: a real Optuna search and a joblib launch."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli

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


def test_an_interval_sweep_reaches_the_sweeper_and_a_bad_objective_is_refused(tmp_path):
    result = cli(
        "nnkit.train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
        "optimizer.lr=tag(log,interval(0.001,0.1))", *TINY, f"hydra.sweep.dir={tmp_path}",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jobs(tmp_path)) == 2
    refused = cli("nnkit.train", "objective=val/accc", f"hydra.run.dir={tmp_path / 'r'}")
    assert refused.returncode == 2 and "unknown objective 'val/accc'" in refused.stderr
    assert "did you mean 'val/acc'?" in refused.stderr and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_the_joblib_launcher_runs_jobs_in_parallel_into_the_pinned_folder(tmp_path):
    result = cli(
        "nnkit.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1",
        *TINY, f"hydra.sweep.dir={tmp_path}", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(jobs(tmp_path)) == 2
    assert "sweep summary (2 runs" in result.stdout and (tmp_path / "summary.md").exists()

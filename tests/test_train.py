"""The main job end to end: the real CLI in subprocesses, into temporary folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nnkit
from tests.helpers import FAST, cli, event_tags, hparams_plugin_present, main_exit, pip_install

FIGURE = {
    "circular": "decision_boundary",
    "xor": "decision_boundary",
    "spiral": "decision_boundary",
    "gaussians": "decision_boundary",
    "linear": "fitted_curve",
    "nonlinear": "fitted_curve",
    "plane": "fitted_surface",
    "bump": "fitted_surface",
    "seven_segment": "confusion_matrix",
    "digits": "confusion_matrix",
}


BUILT_IN = [
    n for n in nnkit.DATASETS.names() if not getattr(nnkit.DATASETS.get(n), "reads_files", 0)
]
THROUGH_THE_CLI = ("seven_segment",)  # the default data by the real command; the rest in-process


@pytest.mark.slow
@pytest.mark.parametrize("dataset", BUILT_IN)
def test_every_dataset_trains_and_logs_everything(tmp_path, dataset):
    from nnkit.train import run

    run_dir = tmp_path / "run"
    size = [] if dataset in ("seven_segment", "digits") else ["data.n=300"]
    args = [f"data={dataset}", *size, *FAST, f"hydra.run.dir={run_dir}"]
    if dataset in THROUGH_THE_CLI:
        result = cli("nnkit.train", *args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "final metrics:" in result.stdout
        assert f"tensorboard --logdir {run_dir}" in result.stdout
    else:
        run(args)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    key = "val/r2" if dataset in ("linear", "nonlinear", "plane", "bump") else "val/acc"
    assert isinstance(metrics[key], float) and "test/loss" in metrics
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    assert (run_dir / "config.yaml").read_text().count(f"name: {dataset}") == 1
    tags = event_tags(run_dir / "tensorboard")
    assert {"train/loss_step", "train/loss_epoch", "val/loss", "train/lr"} <= set(tags["scalars"])
    assert f"figures/{FIGURE[dataset]}" in tags["images"]
    assert hparams_plugin_present(run_dir / "tensorboard")


def test_checkpoints_load_with_weights_only_and_predict_the_article_six(tmp_path):
    import torch

    from nnkit.train import run

    run_dir = tmp_path / "run"
    run([*FAST[1:], "trainer.max_epochs=150", "logger=none", f"hydra.run.dir={run_dir}"])
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    assert checkpoint["hyper_parameters"]["config"]["model"]["hidden"] == [32]
    result = cli("nnkit.predict", f"ckpt={ckpt}", "input=[1,0,1,1,1,1,1]")
    assert result.returncode == 0 and result.stdout.splitlines()[0] == "prediction: 6"
    assert len(result.stdout.splitlines()[1].split(",")) == 10


def test_a_bad_override_gives_one_line_and_exit_2_from_a_real_process(tmp_path):
    result = cli("nnkit.train", "data=circlar", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "unknown data option 'circlar' — did you mean 'circular'?" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.activation=rleu"], "unknown activation 'rleu' — did you mean 'relu'?"),
        (["optimizer.lr=0"], "optimizer.lr=0.0 is out of range (valid: optimizer.lr > 0.0)"),
        (["+data.radus=1"], "unknown parameter 'radus' for dataset 'seven_segment'"),
    ],
)
def test_bad_overrides_give_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    """The command line's own entry point, in this process (the one above runs it in its own)."""
    code, err = main_exit([*args, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_python_api_reaches_the_circle_accuracy_the_readme_promises(tmp_path):
    from nnkit.train import run

    metrics = run(
        ["data=circular", "trainer.progress_bar=none", "logger=none", f"hydra.run.dir={tmp_path}"]
    )
    assert metrics["val/acc"] >= 0.97  # README: "a circle: MLP ≈ 0.97 accuracy"
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


@pytest.mark.slow
def test_installed_wheel_runs_from_the_root_folder(tmp_path):
    """A non-editable install holds every module of every floor and runs from ``/``."""
    import zipfile

    dist = tmp_path / "dist"
    repo = Path(nnkit.__file__).parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(repo),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("nnkit-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(f.relative_to(repo)) for f in (repo / "nnkit").rglob("*.py")}
    assert sources <= shipped, sorted(sources - shipped)
    target = tmp_path / "site"
    pip_install(wheel, target)
    run_env = {"PYTHONPATH": str(target)}
    result = cli("nnkit.train", *FAST, "logger=none", f"hydra.run.dir={tmp_path / 'out'}",
                 cwd=Path("/"), env=run_env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "metrics.json").exists()
    where = subprocess.run(
        [sys.executable, "-c", "import nnkit.training.job; print(nnkit.training.job.__file__)"],
        cwd="/",
        env={**os.environ, **run_env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(target))

"""Runs that survive: exact resume, kills, Ctrl-C, divergence, bad checkpoints, many processes."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnkit.errors import USER_ERRORS, DivergenceError
from nnkit.train import run
from tests.helpers import cli, main_exit, wait_for

QUICK = ["data=circular", "data.n=300", "trainer.progress_bar=none", "logger=none"]
WRONG_PLUGIN = Path(__file__).parent / "plugins" / "wrong_square.py"


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_resumed_run_ends_bit_identical_to_uninterrupted(tmp_path):
    """A run of a learning-rate schedule stepped per epoch (its state in the checkpoint)."""
    whole, part = tmp_path / "whole", tmp_path / "part"
    schedule = ["scheduler=warmup_cosine", "scheduler.warmup=2", "scheduler.total=6"]
    run([*QUICK, *schedule, "trainer.max_epochs=6", f"hydra.run.dir={whole}"])
    run([*QUICK, *schedule, "trainer.max_epochs=3", f"hydra.run.dir={part}"])
    run([*QUICK, *schedule, "trainer.max_epochs=6", "ckpt_path=last", f"hydra.run.dir={part}"])
    a, b = weights(whole), weights(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (whole, part)]
    assert metrics[0] == metrics[1]


def test_resuming_a_finished_run_reports_it_again_twice_and_the_same(tmp_path, capsys):
    line = [*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}"]
    first = run(line)
    written = (tmp_path / "metrics.json").read_text()
    events = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    capsys.readouterr()
    for _ in range(2):
        assert run([*line, "ckpt_path=last"]) == first
        assert "this run has finished already (epoch 2/2, step 14)" in capsys.readouterr().out
        assert (tmp_path / "metrics.json").read_text() == written
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == events


def test_ckpt_path_last_without_a_checkpoint_starts_from_scratch(tmp_path, capsys):
    line = [*QUICK, "trainer.max_epochs=2", "ckpt_path=last"]
    fresh = run([*line, f"hydra.run.dir={tmp_path / 'a'}"])
    assert "no last.ckpt in" in capsys.readouterr().out
    assert fresh == run([*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'b'}"])


def test_same_seed_gives_bit_identical_weights_and_metrics(tmp_path):
    for name in ("a", "b"):
        run(
            [
                *QUICK,
                "trainer.max_epochs=2",
                "model.activation=sigmoid",
                f"hydra.run.dir={tmp_path / name}",
            ]
        )
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "metrics.json").read_text() == (
        tmp_path / "b" / "metrics.json"
    ).read_text()


def test_divergence_stops_at_once_and_saves_only_finite_weights(tmp_path):
    with pytest.raises(DivergenceError, match=r"at optimizer step \d+ .*optimizer.lr=1000000.0"):
        run(
            [
                "data=linear",
                "data.n=300",
                "trainer.progress_bar=none",
                "optimizer=sgd",
                "optimizer.lr=1e6",
                "trainer.max_epochs=50",
                f"hydra.run.dir={tmp_path}",
            ]
        )
    for ckpt in (
        (tmp_path / "checkpoints").glob("*.ckpt") if (tmp_path / "checkpoints").exists() else []
    ):
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(t).all() for t in state.values()), ckpt.name


def start_long_run(run_dir: Path) -> subprocess.Popen:
    args = [
        "data=circular",
        "data.n=4000",
        "trainer.max_epochs=1000",
        "trainer.progress_bar=none",
        "logger=none",
        f"hydra.run.dir={run_dir}",
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "nnkit.train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background inherits an ignored SIGINT: Ctrl-C must reach the run
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    process = start_long_run(tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    wait_for(last, process)
    before = torch.load(last, weights_only=True)["global_step"]
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (process.returncode, stderr[-3000:])
    assert "interrupted; saved" in stderr and "Traceback" not in stderr
    assert torch.load(last, weights_only=True)["global_step"] > before


class _Marker:
    """Unpickling this would create a file: a checkpoint must never run code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def crafted_checkpoints(folder: Path, marker: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    good_dir = folder / "good"
    run([*QUICK, "trainer.max_epochs=1", f"hydra.run.dir={good_dir}"])
    good = good_dir / "checkpoints" / "last.ckpt"
    truncated = folder / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = folder / "notes.ckpt"
    text.write_text("not a checkpoint")
    evil = folder / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Marker(str(marker))}, evil)
    plain_pickle = folder / "plain.pkl"
    plain_pickle.write_bytes(pickle.dumps({"state_dict": _Marker(str(marker))}))
    return {
        "good": good,
        "truncated": truncated,
        "text": text,
        "evil": evil,
        "pickle": plain_pickle,
    }


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpts")
    marker = folder / "MARKER"
    return crafted_checkpoints(folder, marker), marker


@pytest.mark.parametrize(
    ("which", "extra", "message"),
    [
        ("missing", [], "does not exist"),
        ("truncated", [], "is truncated (its zip archive is incomplete)"),
        ("text", [], "cannot be loaded"),
        ("evil", [], "refused: loading it could run code"),
        ("pickle", [], "cannot be loaded"),
        ("good", ["model.hidden=[5]"], "is from another model shape"),
    ],
)
def test_bad_checkpoints_are_refused_in_one_line_and_touch_nothing(
    checkpoints, tmp_path, monkeypatch, capsys, which, extra, message
):
    files, marker = checkpoints
    path = files.get(which, tmp_path / "nope.ckpt")
    run_dir = tmp_path / "existing_run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text("{}")
    code, err = main_exit(
        [*QUICK, *extra, f"ckpt_path={path}", f"hydra.run.dir={run_dir}"], monkeypatch, capsys
    )
    assert code == 2 and message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["metrics.json"]
    assert (run_dir / "metrics.json").read_text() == "{}"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["input=[1e309,0]"], "input holds inf: every value must be a finite number"),
        (["input=[-1e309,0]"], "input holds -inf: every value must be a finite number"),
        (["input=[1e39,0]"], "does not fit in float32"),
        (["input=[1,0]", "replica=5"], "replica=5: checkpoint"),
        (["input=[1,0]", "replica=2"], "holds one network, not replicas"),
    ],
)
def test_predict_refuses_in_one_line(checkpoints, capsys, args, message):
    from nnkit import predict

    files, _ = checkpoints
    assert predict.main([f"ckpt={files['good']}", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_predict_refuses_a_crafted_checkpoint(checkpoints):
    from nnkit import predict

    files, marker = checkpoints
    assert predict.main([f"ckpt={files['evil']}", "input=[1,2]"]) == 2
    assert not marker.exists()


BAD_INPUTS = [
    (["data=circlar"], "unknown data option 'circlar' — did you mean 'circular'?"),
    (["model=mpl"], "unknown model option 'mpl' — did you mean 'mlp'?"),
    (["loss=mae"], "unknown loss option 'mae'"),
    (["optimizer=adma"], "unknown optimizer option 'adma' — did you mean 'adam'?"),
    (["trainer=ddp_gpu"], "unknown trainer option 'ddp_gpu'"),
    (["logger=wandb"], "unknown logger option 'wandb'"),
    (["model.activation=rleu"], "unknown activation 'rleu' — did you mean 'relu'?"),
    (["model.activation=[relu,sigmoid]"], "lists 2 names for 1 hidden layers"),
    (["model.hidden=[0]"], "must list positive widths"),
    (["model.hidden=[-4]"], "must list positive widths"),
    (["model.hidden=abc"], "hidden='abc' should be int | list[int]"),
    (["model.hidden=[4,x"], "no viable alternative"),
    (["model.backend=jax"], "unknown backend 'jax' (choose from: nnkit, torch)"),
    (["optimizer.lr=0"], "optimizer.lr=0.0 is out of range (valid: optimizer.lr > 0.0)"),
    (["optimizer.lr=-1"], "optimizer.lr=-1.0 is out of range"),
    (["optimizer.lr=fast"], "could not be converted to Float"),
    (["optimizer.weight_decay=-0.1"], "optimizer.weight_decay=-0.1 is out of range"),
    (["optimizer.momentum=-1", "optimizer=sgd"], "optimizer.momentum=-1.0 is out of range"),
    (["optimizer.lrr=0.1"], "Could not override 'optimizer.lrr'"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 is out of range"),
    (["trainer.max_epochs=ten"], "could not be converted to Integer"),
    (["trainer.accelerator=tpu"], "trainer.accelerator='tpu' is not valid — did you mean 'gpu'?"),
    (["trainer.progress_bar=fancy"], "trainer.progress_bar='fancy' is not valid"),
    (["trainer.steps_per_call=0"], "trainer.steps_per_call=0 is out of range"),
    (["trainer.threads=-2"], "trainer.threads=-2 is out of range"),
    (["data.batch_size=0"], "data.batch_size=0 is out of range"),
    (["data.batch_size=100"], "data.batch_size=100 is larger than the training set"),
    (["data=circular", "data.radius=-1"], "radius=-1 is out of range"),
    (["data=circular", "data.n=0"], "n=0 is out of range"),
    (["data=xor", "data.noise=2"], "noise=2 is out of range"),
    (
        ["data=circular", "+data.radus=1"],
        "unknown parameter 'radus' for dataset 'circular' — did you mean 'radius'?",
    ),
    (["data=linear", "loss=cross_entropy"], "loss 'cross_entropy' needs a multiclass task"),
    (["data=linear", "loss=bce"], "loss 'bce' needs a classification task"),
    (["loss.reduction=median"], "unknown reduction 'median' (choose from: mean, sum)"),
    (["plugins=[no_such_module]"], "plugin module 'no_such_module' not found"),
    (["plugins=[missing/file.py]"], "plugin file 'missing/file.py' does not exist"),
    (["seed=abc"], "could not be converted to Integer"),
    (["ckpt_path=/nowhere/x.ckpt"], "checkpoint '/nowhere/x.ckpt' does not exist"),
    (["-m", "trainer=ddp_cpu", "seed=0,1"], "multirun (-m) cannot launch trainer.strategy=ddp"),
    (["model=null"], "model=null: a run needs exactly one model (choose from: linear, mlp)"),
    (["data=null"], "data=null: a run needs exactly one data"),
    (["~model"], "~model: a run needs a model; it cannot be removed"),
    (["~optimizer"], "~optimizer: a run needs a optimizer"),
    (["model=[mlp,linear]"], "a run needs exactly one model"),
    (["model="], "unknown model option ''"),
    (["experiment=null"], "experiment=null: to run without one, leave experiment out"),
    (["seed=0,1"], "seed=0,1 is a sweep: add -m (--multirun)"),
    (["-m", "model=mlp,lnear"], "unknown model option 'lnear' — did you mean 'linear'?"),
    (["-m", "optimizer.lr=interval(0.001,0.1)"], "basic sweeper enumerates only choices"),
    (["-m", "seed=range(0,0)"], "seed=range(0,0) sweeps over no value"),
    (["-m", "model=glob(zz*)"], "model=glob(zz*) sweeps over no value"),
    (["optimizer.momentum=0.9"], "Key 'momentum' not in 'adam_schema'"),
    (["+optimizer.momentum=0.9"], "unknown parameter 'momentum' for optimizer 'adam'"),
    (["optimizer=sgd", "optimizer.betas=[0.9,0.99]"], "Key 'betas' not in 'sgd_schema'"),
    (["optimizer=adamw", "optimizer.betas=[0.9]"], "betas=[0.9] must be two numbers"),
    (["optimizer.lr=inf"], "optimizer.lr=inf should be a finite number"),
    (["optimizer.lr=nan"], "optimizer.lr=nan should be a finite number"),
    (["data.batch_size=2.5"], "data.batch_size=2.5 should be an integer"),
    (["model.hidden=null"], "hidden=None should be int | list[int]"),
    (["model.activation=null"], "activation=None should be str | list[str]"),
    (["trainer.max_epochs=null"], "field 'trainer.max_epochs' is not Optional"),
    (["plugins=null"], "field 'plugins' is not Optional"),
    (["+model=mlp"], "model appears more than once"),
    (["plugin_loading.timeout_s=-1"], "plugin_loading.timeout_s=-1.0 is out of range"),
    (
        [f"plugins=[{WRONG_PLUGIN}]", "model.activation=wrong_square"],
        "activation 'wrong_square' (module wrong_square) fails its gradient proof "
        "(activation wrong_square: relative error 5.0e-01 > 1e-12",
    ),
    (["plugin_loading.prove=maybe"], "Value 'maybe' is not a valid bool"),
    (["optimized_metric=val/acc"], "optimized_metric is nnkit's objective (e.g. objective="),
    (["+optimized_metric=val/acc"], "optimized_metric is nnkit's objective (e.g. objective="),
    (["+sede=1"], "unknown setting 'sede' — did you mean 'seed'?"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_no_run_folder(
    tmp_path, monkeypatch, capsys, argv, message
):
    run_dir = tmp_path / "run"
    code, err = main_exit(
        [*argv, f"hydra.run.dir={run_dir}", f"hydra.sweep.dir={run_dir}"], monkeypatch, capsys
    )
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not run_dir.exists()


@pytest.mark.slow
def test_sweep_runs_every_job_into_its_own_folder_and_summarises(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nnkit.train",
            "-m",
            "model.activation=step,relu",
            "seed=0,1",
            *QUICK,
            "trainer.max_epochs=2",
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]
    summary = (tmp_path / "summary.md").read_text().splitlines()
    assert len(summary) == 2 + 2 + 4 and "model.activation=relu seed=1" in summary[-1]
    assert "sweep summary (4 runs" in result.stdout
    jobs = json.loads((tmp_path / "summary.json").read_text())
    best = max(jobs["jobs"], key=lambda job: job["metrics"]["val/acc"])
    assert jobs["best"] == best["job"] or (
        [j["metrics"]["val/acc"] for j in jobs["jobs"]].count(best["metrics"]["val/acc"]) > 1
    )
    assert summary[0].startswith("best: job ") and "val/acc" in summary[0]


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_run_resumes_exactly(tmp_path):
    stopped = tmp_path / "stopped"
    process = start_long_run(stopped)
    last = stopped / "checkpoints" / "last.ckpt"
    wait_for(last, process)
    time.sleep(0.7)  # mid-epoch
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr[-2000:]
    assert "terminated (SIGTERM); saved" in stderr and "Traceback" not in stderr
    saved = torch.load(last, weights_only=True)
    epochs = saved["epoch"] + 2
    common = [
        "data=circular",
        "data.n=4000",
        f"trainer.max_epochs={epochs}",
        "trainer.progress_bar=none",
        "logger=none",
    ]
    resumed = cli("nnkit.train", *common, "ckpt_path=last", f"hydra.run.dir={stopped}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run([*common, f"hydra.run.dir={tmp_path / 'whole'}"])  # the uninterrupted run, in process
    a, b = weights(stopped), weights(tmp_path / "whole")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (
        torch.load(last, weights_only=True)["global_step"]
        == torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True)[
            "global_step"
        ]
    )


def test_a_second_run_into_a_busy_run_folder_refuses_and_touches_nothing(tmp_path):
    from nnkit.runs.lock import LOCK_NAME, run_lock

    run_dir = tmp_path / "run"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_dir.mkdir()
        (run_dir / LOCK_NAME).write_text(str(owner.pid))
        (run_dir / "metrics.json").write_text("{}")
        result = cli("nnkit.train", *QUICK, "trainer.max_epochs=1", f"hydra.run.dir={run_dir}")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"is in use by another run (process {owner.pid}, job pid-{owner.pid})" in (
            result.stderr
        )
        assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_NAME, "metrics.json"]
    finally:
        owner.kill()
        owner.wait()
    with run_lock(run_dir):  # the owner is gone: its lock is stale and taken over
        assert json.loads((run_dir / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (run_dir / LOCK_NAME).exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data=circlar"], "did you mean 'circular'?"),
        (["trainer.strategy=nonsense"], "You selected an invalid strategy name"),
    ],
)
def test_run_from_python_refuses_what_the_command_line_refuses(
    tmp_path, monkeypatch, capsys, argv, message
):
    run_dir = tmp_path / "run"
    line = [*argv, f"hydra.run.dir={run_dir}"]
    code, err = main_exit(line, monkeypatch, capsys)
    with pytest.raises(USER_ERRORS) as refused:
        run(line)  # the same preflight: the same one line, before any folder exists
    assert code == 2 and message in str(refused.value)
    assert err.strip() == f"nnkit.train: error: {refused.value}"
    assert not run_dir.exists()

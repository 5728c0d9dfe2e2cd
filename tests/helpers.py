"""Running the real CLIs in subprocesses, and reading TensorBoard event files back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import forkserver

FAST = ["trainer.max_epochs=3", "trainer.progress_bar=none", "trainer.log_every_n_steps=1"]


def cli(
    module: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 120
) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` in its own process, in the worker's starting environment and
    ``env``; output captured as text. The process is forked from an interpreter that has
    imported torch and Lightning (``tests.forkserver``), or is a fresh interpreter where
    ``env`` needs one."""
    return forkserver.run([module, *args], cwd, forkserver.command_env(env), timeout)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 90) -> None:
    """Wait until ``path`` exists (a checkpoint, typically) while ``process`` runs."""
    import time

    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.1)


def main_exit(argv, monkeypatch, capsys) -> tuple[int, str]:
    """Run the real CLI entry point (``nnkit.commands.train.main``) in this process; its exit
    code and stderr."""
    import pytest

    from nnkit.commands.train import main

    monkeypatch.setattr(sys, "argv", ["nnkit.train", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err


def main_run(argv, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the real CLI entry point (``nnkit.commands.train.main``) in this process to its
    end, a multirun included: its exit code (0 when it returns), stdout and stderr."""
    from nnkit.commands.train import main

    monkeypatch.setattr(sys, "argv", ["nnkit.train", *argv])
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pip_install(project: Path, target: Path) -> None:
    """Install a project (a folder or a wheel) into ``target``, offline, without dependencies."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "--target",
            str(target),
            str(project),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


def event_tags(log_dir: Path) -> dict[str, list[str]]:
    """Tags of every kind in the TensorBoard event files under ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, list[str]] = {"scalars": [], "images": [], "tensors": []}
    for events in sorted(log_dir.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
        accumulator.Reload()
        for kind, found in accumulator.Tags().items():
            if kind in tags:
                tags[kind] += found
    return tags


def hparams_plugin_present(log_dir: Path) -> bool:
    """Whether the events carry TensorBoard's HPARAMS plugin data."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for events in log_dir.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        if "hparams" in accumulator.Tags().get("tensors", []) or _has_plugin(accumulator):
            return True
    return False


def _has_plugin(accumulator) -> bool:
    try:
        return bool(accumulator.PluginTagToContent("hparams"))
    except KeyError:
        return False


def scalar_series(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    """Every ``(step, value)`` of one scalar in the event files under ``log_dir``, by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: list[tuple[int, float]] = []
    for events in sorted(log_dir.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        if tag in accumulator.Tags()["scalars"]:
            found += [(event.step, event.value) for event in accumulator.Scalars(tag)]
    return sorted(found)

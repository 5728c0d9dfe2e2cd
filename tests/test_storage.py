"""The machine's faults on real filesystems: a run folder that cannot be created or written is
refused before the run (exit 2, nothing created); a disk that fills up during the run stops
it with one line (exit 1), the last good checkpoint intact, and the run resumes exactly once
space is freed.

Small filesystems are real tmpfs mounts made for the test (root with mount rights); the
permission case runs the command as the unprivileged user ``nobody``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nnkit.runs.storage import write_atomic
from nnkit.train import run
from tests.helpers import cli, main_exit, wait_for

QUICK = ["data=circular", "data.n=300", "trainer.max_epochs=2", "trainer.progress_bar=none"]
LONG = [
    "data=circular",
    "data.n=2000",
    "trainer.progress_bar=none",
    "trainer.checkpoint_interval_s=0",
]


def _mount_refusal() -> str | None:
    """Why tmpfs cannot be mounted here, or None if it can."""
    if os.geteuid() != 0:
        return "mounting a test filesystem needs root"
    probe = Path(f"/tmp/nnkit-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        probe.rmdir()
        return f"mount is not permitted here: {done.stderr.strip()}"
    subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    return None


MOUNT_REFUSAL = _mount_refusal()
needs_mount = pytest.mark.skipif(MOUNT_REFUSAL is not None, reason=str(MOUNT_REFUSAL))


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``path`` for the block."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte; the filler file."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):  # big blocks, then what is left
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    return filler


def assert_one_line(err: str, *parts: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, err


def test_a_run_folder_under_a_file_is_refused(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    run_dir = blocker / "run"
    code, err = main_exit([*QUICK, f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    assert code == 2
    assert_one_line(err, f"run folder {run_dir} cannot be created: {blocker} is a file")
    assert blocker.read_text() == "not a folder"


@needs_mount
def test_a_read_only_filesystem_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as mount:
        code, err = main_exit([*QUICK, f"hydra.run.dir={mount / 'run'}"], monkeypatch, capsys)
        assert code == 2
        assert_one_line(err, f"run folder {mount / 'run'} cannot be written",
                        "Read-only file system (EROFS)")  # fmt: skip
        assert list(mount.iterdir()) == []


@needs_mount
def test_a_full_filesystem_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    with tmpfs(tmp_path / "full", "2m") as mount:
        filler = fill(mount)
        code, err = main_exit(
            ["-m", *QUICK, "seed=0,1", f"hydra.sweep.dir={mount / 'sweep'}"], monkeypatch, capsys
        )
        assert code == 2
        assert_one_line(err, f"sweep folder {mount / 'sweep'} cannot be written",
                        "No space left on device (ENOSPC)", "MiB free")  # fmt: skip
        assert sorted(mount.iterdir()) == [filler]


def _nobody_can_run_nnkit() -> str | None:
    if os.geteuid() != 0:
        return None  # a plain user meets permissions directly
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing: cannot run as another user"
    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c", "import nnkit.commands.train"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    return None if probe.returncode == 0 else f"user nobody cannot import nnkit: {probe.stderr}"


NOBODY_REFUSAL = _nobody_can_run_nnkit()


@pytest.mark.skipif(NOBODY_REFUSAL is not None, reason=str(NOBODY_REFUSAL))
def test_a_folder_without_permission_is_refused():
    # in a folder of its own under /tmp, which the other user can reach (pytest keeps its own
    # temporary folders private to their owner)
    folder = Path(tempfile.mkdtemp(prefix="nnkit-permission-"))
    try:
        folder.chmod(0o755)
        locked, home = folder / "locked", folder / "home"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        home.mkdir()
        home.chmod(0o777)
        run_dir = locked / "run"
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        command = [*(prefix if os.geteuid() == 0 else []), sys.executable, "-m", "nnkit.train"]
        result = subprocess.run(
            [*command, *QUICK, f"hydra.run.dir={run_dir}"],
            capture_output=True, text=True, cwd="/", timeout=120,
            env={**os.environ, "MPLCONFIGDIR": str(home), "HOME": str(home)},
        )  # fmt: skip
        assert result.returncode == 2, result.stderr[-2000:]
        assert_one_line(result.stderr, f"run folder {run_dir} cannot be written",
                        "Permission denied (EACCES)")  # fmt: skip
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@needs_mount
def test_an_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path):
    with tmpfs(tmp_path / "fs", "1m") as mount:
        target = mount / "metrics.json"
        write_atomic(target, b"old")
        filler = fill(mount)
        with pytest.raises(OSError) as refused:
            write_atomic(target, b"x" * (256 << 10))
        assert refused.value.errno == errno.ENOSPC and refused.value.filename == str(target)
        assert target.read_bytes() == b"old"
        assert sorted(mount.iterdir()) == [filler, target]  # no temporary file left


def start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nnkit.train", *LONG, "trainer.max_epochs=1000", *extra,
         f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@needs_mount
@pytest.mark.slow
@pytest.mark.parametrize("logger", ["[tensorboard,csv]"])  # every writer nnkit has
def test_a_disk_filling_mid_run_stops_cleanly_and_the_run_resumes_exactly(tmp_path, logger):
    with tmpfs(tmp_path / "fs", "8m") as mount:
        run_dir = mount / "run"
        process = start(run_dir, f"logger.name={logger}")
        last = run_dir / "checkpoints" / "last.ckpt"
        wait_for(last, process)
        filler = fill(mount)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, stderr[-2000:]
        assert_one_line(stderr, "nnkit.train: error: could not write", str(run_dir),
                        "No space left on device (ENOSPC)",
                        f"the last good checkpoint {last} is intact: resume with "
                        f"ckpt_path=last hydra.run.dir={run_dir}")  # fmt: skip
        saved = torch.load(last, weights_only=True)  # whole, and loads
        assert not list(run_dir.rglob(".*.tmp"))
        filler.unlink()
        epochs = [f"trainer.max_epochs={saved['epoch'] + 3}", f"logger.name={logger}"]
        resumed = cli("nnkit.train", *LONG, *epochs, "ckpt_path=last", f"hydra.run.dir={run_dir}")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        run([*LONG, *epochs, f"hydra.run.dir={tmp_path / 'whole'}"])  # uninterrupted, in process
        a, b = final_weights(run_dir), final_weights(tmp_path / "whole")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

"""The run's files and the machine's faults: writes that are whole or absent, a run folder
checked before the run, and one line for a write the machine refuses.

Every file nnkit writes itself (checkpoints, ``metrics.json``, ``config.yaml``, sweep
summaries) goes through ``write_atomic``: a temporary file in the same folder, synced, renamed
into place — a full disk or a kill leaves the previous version whole. ``check_writable`` refuses
a run folder that cannot be created or written before anything exists (exit 2);
``storage_error`` turns a write refused during the run into a one-line ``StorageError``
naming the file, the OS error and the checkpoint to resume from (exit 1).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     write_atomic(Path(folder) / "a.txt", b"hello")
...     (Path(folder) / "a.txt").read_text()
'hello'
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from nnkit.errors import ConfigError, StorageError

MIN_FREE_BYTES = 1 << 20  # what a run writes besides its checkpoints: config, logs, metrics


def os_reason(error: OSError) -> str:
    """An OS error in words with its symbol: ``No space left on device (ENOSPC)``.

    >>> os_reason(OSError(errno.EROFS, "Read-only file system"))
    'Read-only file system (EROFS)'
    """
    code = errno.errorcode.get(error.errno or 0)
    text = error.strerror or str(error) or type(error).__name__
    return f"{text} ({code})" if code else text


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: temporary file, fsync, rename.

    A refused write (``OSError``: no space, no permission) leaves ``path`` as it was and no
    temporary file behind; the error carries ``path`` as its ``filename``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # as open() would have made it, not mkstemp's 0600
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its closest ancestor that exists (as anything: a file too)."""
    folder = folder.absolute()
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable(folder: Path, need_bytes: int = 0, what: str = "run folder") -> None:
    """Raise a one-line ``ConfigError`` unless ``folder`` can be created (if missing) and written,
    with at least ``need_bytes`` (plus ``MIN_FREE_BYTES``) free. Creates nothing that stays.

    >>> check_writable(Path("/proc/version/run"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nnkit.errors.ConfigError: run folder /proc/version/run cannot be created: ... not a folder
    """
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise ConfigError(f"{what} {folder} cannot be created: {base} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=base, prefix=".nnkit-probe.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ConfigError(
            f"{what} {folder} cannot be written: {os_reason(error)} at {base}"
        ) from None
    need = need_bytes + MIN_FREE_BYTES
    free = shutil.disk_usage(base).free
    if free < need:
        raise ConfigError(
            f"{what} {folder} cannot be written: No space left on device (ENOSPC): {base} has "
            f"{free / 2**20:.1f} MiB free, a run needs about {need / 2**20:.1f} MiB"
        )


def checkpoint_bytes(net: Any) -> int:
    """About what a run's checkpoints take on disk: ``last.ckpt``, ``best.ckpt`` and one being
    written, each holding the weights and two optimizer moments."""
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    return 3 * (3 * weights + (64 << 10))


def last_checkpoint_note(run_dir: Path) -> str:
    """What is left to resume from in ``run_dir``, in words."""
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return "no checkpoint was written yet: run it again once the cause is gone"
    return (
        f"the last good checkpoint {last} is intact: resume with ckpt_path=last "
        f"hydra.run.dir={run_dir} once the cause is gone"
    )


def storage_error(error: OSError, run_dir: Path) -> StorageError:
    """A write refused during the run, as one line: the file, the OS error, what is kept."""
    where = error.filename or f"into {run_dir} (a log or checkpoint being written)"
    return StorageError(
        f"could not write {where}: {os_reason(error)}; {last_checkpoint_note(Path(run_dir))}"
    )


def quiet_writer_threads() -> None:
    """TensorBoard writes event files from a thread of its own; when the disk fills up, that
    thread would print a traceback before the run reports the same error in one line (the
    writer hands it to the next log call). Keep a writer thread's ``OSError`` quiet; any other
    exception in a thread is printed as before. Installed once per process."""
    previous = threading.excepthook
    if getattr(previous, "nnkit_quiet_writes", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, OSError) and args.exc_value.errno is not None:
            return
        previous(args)

    hook.nnkit_quiet_writes = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def find_os_error(error: BaseException | None) -> OSError | None:
    """The ``OSError`` behind ``error`` (itself, or one it was raised from or during)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno is not None:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None

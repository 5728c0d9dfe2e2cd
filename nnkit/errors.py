"""The errors nnkit reports to its users, in one small module that every layer may import.

Each carries one line: the bad value and the valid choices. The command line turns them into
exit codes: 2 for a user's mistake (``USER_ERRORS``), 1 for ``DivergenceError`` and
``StorageError`` (the machine refused a write during the run), 130 or 143 for ``RunInterrupted``
(Ctrl-C or SIGTERM).

>>> raise ConfigError("optimizer.lr=0 is out of range (valid: optimizer.lr > 0)")
Traceback (most recent call last):
...
nnkit.errors.ConfigError: optimizer.lr=0 is out of range (valid: optimizer.lr > 0)
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO

from nnkit.registry import RegistryError


class ConfigError(ValueError):
    """A user's configuration is wrong; the message is one line with the valid choices."""


class PluginError(ImportError):
    """A plugin could not be loaded (config plugins always; installed ones when strict)."""


class DivergenceError(RuntimeError):
    """The loss or the weights became NaN or infinite."""


class StorageError(RuntimeError):
    """A file of the run could not be written (no space, no permission, a read-only
    filesystem); the message names the file, the OS error and the checkpoint to resume from."""


class ObjectiveError(RuntimeError):
    """A run ended without a finite objective for a sweeper to compare."""


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C or SIGTERM) after saving a checkpoint; ``exit_code`` is the
    shell's convention for the signal: 130 for SIGINT, 143 for SIGTERM."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


USER_ERRORS: tuple[type[Exception], ...] = (ConfigError, RegistryError, PluginError)


def one_line(message: str) -> str:
    """Hydra's and OmegaConf's multi-line messages folded into one line."""
    noise = ("full_key:", "object_type", "reference_type", "Set the environment variable")
    lines = [line.strip() for line in message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(noise))


class Notice(UserWarning):
    """Something a user should know that does not stop the run (a step that runs eagerly, a
    plugin package that did not load): one line, which the commands print as
    ``nnkit.train: warning: ...`` (``say_notices``), not in Python's warning format."""


def say_notices(program: str) -> None:
    """From now on, nnkit's ``Notice`` warnings print as one line of ``program``'s on stderr;
    every other warning as before.

    >>> say_notices("nnkit.train")
    >>> warnings.warn("the step runs eagerly (no compiler)", Notice)  # doctest: +SKIP
    nnkit.train: warning: the step runs eagerly (no compiler)
    """
    previous = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:  # fmt: skip
        if issubclass(category, Notice):
            print(f"{program}: warning: {message}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show

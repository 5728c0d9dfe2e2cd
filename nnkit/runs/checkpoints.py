"""Reading checkpoints safely: plain data only (``weights_only=True``), one-line errors.

A checkpoint that is missing, truncated, not a checkpoint, or crafted to run code when
unpickled is refused with a message naming the file and the problem.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnkit.errors import ConfigError


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` as plain data; ``ConfigError`` if it cannot be trusted or read."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint '{path}' does not exist")
    with path.open("rb") as file:
        zipped = file.read(2) == b"PK"
    if zipped and not zipfile.is_zipfile(path):
        raise ConfigError(f"checkpoint '{path}' is truncated (its zip archive is incomplete)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConfigError(f"checkpoint '{path}' cannot be loaded: {_reason(error)}") from error
    problem = _shape_problem(checkpoint)
    if problem:
        raise ConfigError(f"checkpoint '{path}' is not an nnkit checkpoint ({problem})")
    return checkpoint


def _shape_problem(checkpoint: Any) -> str:
    """What an nnkit checkpoint lacks: weights as tensors by name, and the run's config."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        return "no state_dict"
    if not all(isinstance(t, torch.Tensor) for t in checkpoint["state_dict"].values()):
        return "its state_dict holds something other than tensors"
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(hparams.get("config"), dict):
        return "no config"
    if not isinstance(hparams.get("data"), dict):
        return "no data description"
    return ""


def _reason(error: Exception) -> str:
    text = str(error)
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it holds objects other than plain data (refused: loading it could run code)"
    if isinstance(error, EOFError | pickle.UnpicklingError) or "zip archive" in text:
        return "the file is not a torch checkpoint"
    return text.splitlines()[0] if text else type(error).__name__


def check_compatible(checkpoint: dict[str, Any], state: dict[str, torch.Tensor], path: Any) -> None:
    """Raise ``ConfigError`` if the checkpoint's weights do not fit the model being built."""
    saved = checkpoint["state_dict"]
    for key, tensor in state.items():
        if key not in saved:
            raise ConfigError(f"checkpoint '{path}' is from another model: it has no '{key}'")
        if tuple(saved[key].shape) != tuple(tensor.shape):
            raise ConfigError(
                f"checkpoint '{path}' is from another model shape: '{key}' is "
                f"{tuple(saved[key].shape)} there, {tuple(tensor.shape)} here"
            )


def resume_path(ckpt_path: Any, run_dir: Path) -> Path | None:
    """``ckpt_path`` as a file: ``last`` means ``RUN_DIR/checkpoints/last.ckpt``."""
    if ckpt_path in (None, ""):
        return None
    return run_dir / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)


@dataclass(frozen=True)
class Resume:
    """A checked checkpoint to resume from, and how far its run had come."""

    path: Path
    epochs_done: int  # epochs whose training had ended when it was saved
    steps_done: int  # optimizer steps taken
    metrics: dict[str, float]  # the latest epoch-level metrics it holds

    def finished(self, max_epochs: int, max_steps: int) -> bool:
        """Whether a run to ``max_epochs`` (and ``max_steps``, if >= 0) has nothing left to
        train from here: Lightning's own rule for leaving its fit loop."""
        return self.epochs_done >= max_epochs or 0 <= max_steps <= self.steps_done


def _epochs_done(checkpoint: dict[str, Any]) -> int:
    loop = checkpoint.get("nnkit_epoch_loop")  # the engine's loop counts data epochs itself
    if isinstance(loop, dict) and "epochs_done" in loop:
        return int(loop["epochs_done"])
    try:
        return int(checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return 0


def check_resumable(ckpt_path: Any, run_dir: Path, net: torch.nn.Module) -> Resume | None:
    """The checkpoint to resume from, checked to load safely and to fit ``net``. With
    ``ckpt_path=last`` and no ``last.ckpt`` yet (a job killed before its first checkpoint,
    then requeued), None: the run starts from scratch, as Lightning's own ``last`` does."""
    path = resume_path(ckpt_path, run_dir)
    if path is None or (ckpt_path == "last" and not path.exists()):
        return None
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    checkpoint = load_checkpoint(path)
    check_compatible(checkpoint, state, path)
    metrics = checkpoint.get("nnkit_metrics", {})
    return Resume(path, _epochs_done(checkpoint), int(checkpoint.get("global_step", 0)), metrics)

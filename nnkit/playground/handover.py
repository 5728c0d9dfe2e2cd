"""A page's run, handed to the command line: the ``python -m nnkit.train`` line that replays
it, its resolved config, and a real Lightning checkpoint of its weights and optimizer state
that ``nnkit.predict``, ``nnkit.explain`` and ``nnkit.draw`` load and ``nnkit.train`` resumes.

A session trains as ``nnkit.train`` does (its initial weights, its order of minibatches, its
step), so a session whose settings did not change while it trained, exported at epoch E,
and the exported line run for E epochs give the same weights, bit for bit.

>>> from nnkit.playground.session import Session
>>> session = Session(["data=circular", "data.n=100", "model.hidden=[3]", "optimizer.lr=0.03"])
>>> session.train_epochs(2)
>>> train_line(session)[-3:]
['optimizer.lr=0.03', 'trainer.max_epochs=2', 'trainer.compile=native']
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import OmegaConf, open_dict

from nnkit.errors import ConfigError
from nnkit.playground.session import Session

FOLDER = "playground-exports"  # under the folder the playground was started in
MAX_EXPORTS = 200  # kept at once: the oldest are removed to make room (a classroom's disk)
MAX_EXPORT_BYTES = 500 * 2**20  # and at most this much of them


def train_line(session: Session) -> list[str]:
    """``nnkit.train``'s overrides for the session's run to its current epoch: its settings
    (the last value of each key), the learning rate it has now, its epochs and its engine."""
    settings: dict[str, str] = {}
    for override in session.overrides:
        settings[override.partition("=")[0]] = override
    settings.pop("optimizer.lr", None)
    compile_as = compile_setting(session)
    schedule = session.engine.schedule
    lengths = [f"scheduler.total={schedule.total}"] if schedule.active else []
    return [
        *settings.values(),
        f"optimizer.lr={base_lr(session)!r}",
        *lengths,
        f"trainer.max_epochs={session.epoch}",
        f"trainer.compile={compile_as}",
    ]


def base_lr(session: Session) -> float:
    """The learning rate the session's run is configured with: the optimizer's, or under a
    schedule the rate the schedule starts from (what ``optimizer.lr`` says)."""
    group = session.optimizer.param_groups[0]
    return float(group.get("initial_lr", group["lr"]))


def compile_setting(session: Session) -> str:
    """The ``trainer.compile`` that makes ``nnkit.train``'s engine take the session's step."""
    return "native" if session.engine.path == "native" else "false"


def export(session: Session, folder: Path) -> dict[str, Any]:
    """Write the session's run into a new folder under ``folder`` (``command.sh``,
    ``config.yaml``, ``checkpoints/last.ckpt``, finishing the epoch under way first); what
    the page shows of it."""
    if session.mid_epoch:
        session.finish_epoch()
    if session.epoch == 0:
        raise ConfigError("nothing to export yet: train at least one epoch (play, or step)")
    removed = make_room(folder / FOLDER)
    out = _new_folder(folder / FOLDER, time.strftime(f"%Y%m%d-%H%M%S-epoch{session.epoch}"))
    (out / "checkpoints").mkdir(parents=True)
    data_file = _copy_data(session, out)
    line = train_line(session)
    if data_file is not None:
        line = [o for o in line if not o.startswith("data.path=")] + [f"data.path={data_file}"]
    command = "python -m nnkit.train " + " ".join(shlex.quote(o) for o in line)
    config = OmegaConf.to_yaml(_config(session, data_file), resolve=True)
    (out / "command.sh").write_text(command + f" hydra.run.dir={shlex.quote(str(out))}\n")
    (out / "config.yaml").write_text(config)
    checkpoint = out / "checkpoints" / "last.ckpt"
    write_checkpoint(session, checkpoint, data_file)
    return {
        "type": "export",
        "epoch": session.epoch,
        "command": command,
        "resume": f"{command} ckpt_path={shlex.quote(str(checkpoint))}",
        "config": config,
        "folder": str(out),
        "files": [str(p.relative_to(folder / FOLDER)) for p in sorted(out.rglob("*.*"))],
        "reproducible": session.altered is None,
        "altered": session.altered,
        "removed": removed,
    }


def _copy_data(session: Session, out: Path) -> Path | None:
    """A table's data (``data=csv``: drawn, uploaded or the folder's own) copied beside the
    config as ``data.csv``, which the exported line and config name: it replays anywhere."""
    data = session.config["data"]
    if data["name"] != "csv" or not data.get("path"):
        return None
    copy_to = (out / "data.csv").resolve()
    shutil.copyfile(Path(data["path"]), copy_to)
    return copy_to


def _new_folder(exports: Path, name: str) -> Path:
    """A folder of its own for one export, ``name-XXXX``: another tab exporting in the same
    second gets another, and no name of a removed export comes back."""
    exports.mkdir(parents=True, exist_ok=True)
    while True:
        out = exports / f"{name}-{secrets.token_hex(3)}"
        try:
            out.mkdir()
            return out
        except FileExistsError:
            continue


def make_room(exports: Path) -> list[str]:
    """Remove the oldest exports until one more fits ``MAX_EXPORTS`` and ``MAX_EXPORT_BYTES``
    (a classroom's exports cannot fill the disk); the names removed."""
    if not exports.is_dir():
        return []
    folders = sorted((p for p in exports.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    sizes = [sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in folders]
    removed: list[str] = []
    while folders and (len(folders) >= MAX_EXPORTS or sum(sizes) > MAX_EXPORT_BYTES):
        oldest = folders.pop(0)
        sizes.pop(0)
        shutil.rmtree(oldest, ignore_errors=True)
        removed.append(oldest.name)
    return removed


def _config(session: Session, data_file: Path | None = None) -> Any:
    """The session's config as the exported line composes it (its epochs, its engine, and
    ``data_file``: the copy of its table beside it)."""
    cfg = copy.deepcopy(session.cfg)
    with open_dict(cfg):
        if data_file is not None:
            cfg.data.path = str(data_file)
        cfg.trainer.max_epochs = session.epoch
        cfg.trainer.compile = compile_setting(session)
        cfg.optimizer.lr = base_lr(session)
    return cfg


def write_checkpoint(session: Session, path: Path, data_file: Path | None = None) -> None:
    """A Lightning checkpoint of the session at its epoch: written by Lightning's own
    ``save_checkpoint`` from nnkit's trainer and module for the session's config, after a fit
    whose loops stand where the session stands (its epochs and steps done, its weights and
    optimizer state), so that ``nnkit.train ckpt_path=...`` resumes it as its own."""
    from nnkit.training.trainer import assemble, quiet_lightning

    quiet_lightning()
    cfg = _config(session, data_file)
    net = copy.deepcopy(session.net)
    prepared = dataclasses.replace(session.prepared, net=net, resume=None)
    run = assemble(cfg, path.parent, prepared, training=False)
    calls = -(-session.batches_per_epoch // max(1, int(cfg.trainer.steps_per_call)))
    arrive = _Arrive(session.epoch, session.steps, calls, session.optimizer.state_dict())
    arrive.schedule_state = session.engine.schedule.state()
    run.trainer.callbacks.append(arrive)  # type: ignore[attr-defined]
    run.trainer.fit(run.module, datamodule=run.data)
    run.trainer.save_checkpoint(path)


class _Arrive(pl.Callback):
    """At the start of a fit: the loops' progress set to ``epochs`` finished (``steps``
    optimizer steps, ``calls`` training calls an epoch) and the optimizer's state loaded, so
    the fit ends at once, where the session stands."""

    def __init__(self, epochs: int, steps: int, calls: int, optimizer_state: dict) -> None:
        self.epochs, self.steps, self.calls = epochs, steps, calls
        self.optimizer_state = optimizer_state
        self.schedule_state: dict[str, Any] = {}  # the learning-rate schedule's, if any

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loop = trainer.fit_loop
        epochs, batches = loop.epoch_progress, loop.epoch_loop.batch_progress
        steps = loop.epoch_loop.manual_optimization.optim_step_progress
        for tracker, count in (
            (epochs.total, self.epochs), (epochs.current, self.epochs),
            (batches.total, self.epochs * self.calls), (batches.current, self.calls),
            (steps.total, self.steps), (steps.current, self.steps),
        ):  # fmt: skip
            _count(tracker, count)
        batches.is_last_batch = True
        loop.epoch_loop._batches_that_stepped = self.epochs * self.calls
        trainer.optimizers[0].load_state_dict(self.optimizer_state)
        module: Any = pl_module  # nnkit's: its engine owns the schedule
        module.engine.schedule.load(self.schedule_state)


def _count(tracker: Any, count: int) -> None:
    """Every counter a Lightning progress tracker keeps (ready, started, processed,
    completed: those it has) set to ``count``."""
    for name in ("ready", "started", "processed", "completed"):
        if hasattr(tracker, name):
            setattr(tracker, name, count)

"""The playground as a static page: the server's page, its engine the WebAssembly program in a
Web Worker (``static/engine.js``), in one folder that any static file server serves — the
documentation site's ``playground/`` (``docs/gen_playground.py``), or ``write_page(folder)``.

What the worker cannot compute, because it is configuration and not mathematics, comes with
the page as ``catalog.json``: the config's defaults for each dataset, optimizer, loss and
schedule (composed by nnkit's own config path), each built-in activation's and loss's case in
the program (their declarations' ``native``), each task's losses and how its targets meet them,
the page's limits and the article's worked example.

>>> sorted(catalog()["data"])
['bump', 'circular', 'gaussians', 'plane', 'seven_segment', 'spiral', 'xor']
"""

from __future__ import annotations

import functools
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf, open_dict

from nnkit.config.compose import compose
from nnkit.data.task import TASKS, loss_feed
from nnkit.losses import build_loss
from nnkit.models import MLP
from nnkit.native.plan import native_names
from nnkit.native.program import OPTIMIZERS
from nnkit.native.wasm import wasm_path
from nnkit.optimizers import build_optimizer
from nnkit.playground.pictures import DRAWN_POINTS, GRID, MANY_UNITS, SMALL_GRID, THUMBNAILS
from nnkit.playground.pictures import choices as server_choices
from nnkit.playground.session import LOSS_POINTS
from nnkit.playground.settings import (
    KEYS,
    MAX_LAYERS,
    MAX_POINTS,
    MAX_REPLICAS,
    MAX_UNITS,
    settings_of,
)
from nnkit.playground.step_panel import ARTICLE, ARTICLE_POINT
from nnkit.viz.step import ARTICLE as ARTICLE_WEIGHTS

DATASETS = ("circular", "xor", "gaussians", "spiral", "plane", "bump", "seven_segment")
SHAPES = {"circular": "radius", "spiral": "turns", "gaussians": "spread", "bump": "width"}
STATIC = resources.files("nnkit.playground") / "static"
NATIVE = resources.files("nnkit.native")
PAGE_FILES = ("app.js", "style.css", "engine.js", "static_run.js", "static_config.js",
              "static_data.js", "static_pictures.js", "worker_transport.js")  # fmt: skip


def _composed(*overrides: str) -> dict[str, Any]:
    cfg = compose(list(overrides))
    with open_dict(cfg):
        del cfg["hydra"]
    container: Any = OmegaConf.to_container(cfg, resolve=True)
    return dict(container)


def _activations() -> dict[str, dict[str, Any]]:
    """Each built-in activation's case in the program and its one number (slope, alpha)."""
    known, out = native_names("activation"), {}
    for name in server_choices()["activations"]:
        pairs = MLP(2, 1, [1], activation=name).pairs
        pair: Any = pairs[0] if pairs else None
        if getattr(pair, "native", None) in known:
            out[name] = {"native": known.index(pair.native), "argument": float(pair.argument)}
    return out


def _losses() -> dict[str, dict[str, Any]]:
    """Each built-in loss's case in the program, and how each task's data meets it."""
    known, out = native_names("loss"), {}
    for name in server_choices()["losses"][1:]:
        loss = build_loss(name, reduction="mean")
        feeds = {}
        for task, spec in TASKS.items():
            if name in spec.losses:
                feed = loss_feed(task, loss)
                feeds[task] = {"squash": feed.squash, "one_hot": feed.one_hot}
        pair = loss.pair()  # type: ignore[operator]
        out[name] = {"native": known.index(pair.native), "feeds": feeds,
                     "labels": getattr(loss, "targets", "dense") == "index"}  # fmt: skip
    return out


def _optimizers() -> dict[str, dict[str, Any]]:
    """Each optimizer's defaults as the program takes them (torch's own, where the config
    leaves one out: Adam's ε)."""
    out = {}
    for name in OPTIMIZERS:
        config = _composed(f"optimizer={name}")["optimizer"]
        options = {k: v for k, v in config.items() if k not in ("name", "fused")}
        weight = torch.nn.Parameter(torch.zeros(1))
        group = build_optimizer(name, [weight], **options).param_groups[0]
        betas = group.get("betas", (0.9, 0.999))
        out[name] = {"kind": OPTIMIZERS.index(name), "lr": group["lr"], "beta1": betas[0],
                     "beta2": betas[1], "eps": group.get("eps", 1e-8),
                     "weight_decay": group["weight_decay"],
                     "momentum": group.get("momentum", 0.0)}  # fmt: skip
    return out


def _data() -> dict[str, dict[str, Any]]:
    """Each dataset's config defaults, its task and the name of its shape's setting."""
    tasks = {"plane": "regression", "bump": "regression", "seven_segment": "multiclass"}
    return {
        name: {
            "config": _composed(f"data={name}")["data"],
            "task": tasks.get(name, "binary"),
            "shape": SHAPES.get(name),
        }
        for name in DATASETS
    }


def _limits() -> dict[str, int]:
    """The page's limits and the sizes of its pictures (the server's)."""
    return {
        "layers": MAX_LAYERS, "units": MAX_UNITS, "points": MAX_POINTS, "replicas": MAX_REPLICAS,
        "grid": GRID, "small_grid": SMALL_GRID, "many_units": MANY_UNITS,
        "thumbnails": THUMBNAILS, "drawn_points": DRAWN_POINTS, "loss_points": LOSS_POINTS,
    }  # fmt: skip


@functools.cache
def catalog() -> dict[str, Any]:
    """Everything the static page's engine reads besides the WebAssembly program."""
    base, choices = _composed(), server_choices()
    activations = _activations()
    sections = ("seed", "model", "loss", "optimizer", "scheduler", "trainer", "regularization")
    tasks = {name: {"default_loss": t.default_loss, "losses": list(t.losses)}
             for name, t in TASKS.items()}  # fmt: skip
    return {
        "keys": list(KEYS),
        "base": {key: base[key] for key in sections},
        "default_data": base["data"]["name"],
        "data": _data(),
        "choices": {**choices, "activations": sorted(activations), "data": list(DATASETS)},
        "activations": activations,
        "losses": _losses(),
        "optimizers": _optimizers(),
        "schedules": {
            name: _composed(f"scheduler={name}")["scheduler"] for name in choices["schedulers"]
        },
        "tasks": tasks,
        "limits": _limits(),
        "article": {
            "settings": settings_of(ARTICLE),
            "weights": ARTICLE_WEIGHTS,
            "input": ARTICLE_POINT[0],
            "label": ARTICLE_POINT[1],
        },
    }


def write_page(folder: Path) -> list[Path]:
    """The static page in ``folder``: ``index.html``, its scripts and style, ``program.wasm``,
    ``program.mjs`` and ``catalog.json``; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "index.html"]
    written[0].write_text(static_index())
    for name in PAGE_FILES:
        written.append(folder / name)
        written[-1].write_text((STATIC / name).read_text())
    written.append(folder / "program.mjs")
    written[-1].write_text((NATIVE / "program.mjs").read_text())
    written.append(folder / "program.wasm")
    shutil.copyfile(wasm_path(), written[-1])
    written.append(folder / "catalog.json")
    written[-1].write_text(json.dumps(catalog(), separators=(",", ":")))
    return written


def static_index() -> str:
    """The server's page with relative addresses, its engine the worker's."""
    page = (STATIC / "index.html").read_text().replace('"/static/', '"')
    engine = '<script src="worker_transport.js"></script>\n<script src="app.js"></script>'
    page = page.replace('<script src="app.js"></script>', engine)
    return page.replace('<div id="error"', STATIC_NOTE + '\n<div id="error"', 1)


STATIC_NOTE = (
    '<p class="note" id="static-note">Trained in this browser by nnkit\'s native program, '
    "compiled to WebAssembly: no server. Plugins, your own points and CSV files, checkpoints "
    "and <i>as code</i> need Python: <code>python -m nnkit.playground</code> does them.</p>"
)

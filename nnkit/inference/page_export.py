"""A static page's export: the file the documentation site's playground writes of its run
(``nnkit-page-epochE.json``), opened as a checkpoint of that run — by ``nnkit.predict``,
``nnkit.draw``, ``nnkit.explain`` and ``python -m nnkit.playground ckpt=...``.

The file holds the page's settings as ``nnkit.train`` overrides and the trained network's
tensors in the native program's order (``W1, b1, ...``, then each normalization's scale and
shift, then batch normalization's running statistics). The run is composed and built from the
overrides by nnkit's own config path, the tensors are checked against the network's shapes
and loaded into it, and the result is what a checkpoint of that run holds: its ``state_dict``,
its config and its data's description (the browser's own optimizer state is not exported).

>>> is_page_export(Path("last.ckpt"))
False
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf, open_dict

from nnkit.config.compose import compose
from nnkit.config.prepare import prepare
from nnkit.errors import ConfigError
from nnkit.runs.checkpoints import load_checkpoint

FORMAT = "nnkit.page-export/1"


def is_page_export(path: Path) -> bool:
    """Whether ``path`` is a static page's export (JSON), not a torch checkpoint."""
    if path.suffix != ".json" or not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(1) == b"{"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path``: a torch checkpoint (``load_checkpoint``), or a static
    page's export built into one."""
    path = Path(path)
    return page_checkpoint(path) if is_page_export(path) else load_checkpoint(path)


def page_checkpoint(path: Path) -> dict[str, Any]:
    """The run a page's export describes, as a checkpoint (plain data); ``ConfigError`` in one
    line where the file is not one or its tensors do not fit its settings' network."""
    try:
        exported = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"checkpoint '{path}' cannot be read as JSON: {error}") from None
    if not isinstance(exported, dict) or exported.get("format") != FORMAT:
        raise ConfigError(f"checkpoint '{path}' is not a playground page's export ({FORMAT})")
    overrides = exported.get("overrides")
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"checkpoint '{path}' names no settings (its 'overrides')")
    cfg = compose(overrides)
    with open_dict(cfg):
        del cfg["hydra"]
    prepared = prepare(cfg, Path.cwd())
    _load_tensors(prepared.net, exported.get("params"), path)
    state = {f"net.{k}": v.detach().clone() for k, v in prepared.net.state_dict().items()}
    config: Any = OmegaConf.to_container(cfg, resolve=True)
    return {
        "state_dict": state,
        "epoch": int(exported.get("epoch", 0)),
        "global_step": int(exported.get("global_step", 0)),
        "hyper_parameters": {
            "config": config,
            "data": prepared.data.description(),
            "sources": {},
            "proof": prepared.proof.as_dict(),
        },
    }


def _load_tensors(net: Any, params: Any, path: Path) -> None:
    """The export's tensors into ``net``, in the native program's order."""
    targets = net.native_params() if hasattr(net, "native_params") else None
    if targets is None or not isinstance(params, list) or len(params) != len(targets):
        count = "none" if not isinstance(params, list) else len(params)
        raise ConfigError(f"checkpoint '{path}' holds {count} tensors; its network takes "
                          f"{len(targets or [])}")  # fmt: skip
    with torch.no_grad():
        for index, (target, values) in enumerate(zip(targets, params, strict=True)):
            if not isinstance(values, list) or len(values) != target.numel():
                raise ConfigError(f"checkpoint '{path}': tensor {index} should hold "
                                  f"{target.numel()} numbers {tuple(target.shape)}")  # fmt: skip
            target.copy_(torch.tensor(values, dtype=target.dtype).reshape(target.shape))

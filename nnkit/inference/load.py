"""A trained model from its checkpoint: the network rebuilt from the checkpoint's own config
(plain data, loaded with ``weights_only=True``) and its weights; nothing in the checkpoint is
imported or executed. Names that came from plugins need the plugin present: installed, or
imported first. A model trained on a user's file takes raw values, standardised here with the
training split's statistics kept in the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nnkit.catalog import registry_of
from nnkit.config.build import build_net
from nnkit.data.task import TASKS
from nnkit.errors import ConfigError
from nnkit.inference.page_export import read_checkpoint
from nnkit.models import MLP
from nnkit.replicas import ReplicaMLP


def _require_sources(sources: dict[str, str]) -> None:
    for key, source in sources.items():
        kind, _, name = key.partition(":")
        if name not in registry_of(kind):
            hint = (
                f"pip install {source.split()[1]}"
                if source.startswith("package")
                else f"pass plugins=[{source.split()[-1]}]"
            )
            raise ConfigError(f"this checkpoint needs {kind} '{name}' from {source}: {hint}")


def load_model(
    ckpt: str | Path, replica: str | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained network of a checkpoint (in eval mode) and its data description
    (``task``, ``in_features``, ``out_features``, ``classes``; for a user's file also
    ``features``, ``labels``, ``mean`` and ``std``). From a run of several
    replicas, replica number ``replica``, or (``best`` or None) the best by the task's
    monitored metric; a checkpoint of one network takes only ``best`` or 0."""
    checkpoint = read_checkpoint(ckpt)
    hparams = checkpoint["hyper_parameters"]
    _require_sources(hparams.get("sources", {}))
    sizes = hparams["data"]
    replicas = hparams["config"].get("trainer", {}).get("replicas", 1)

    def make() -> torch.nn.Module:
        return build_net(hparams["config"]["model"], sizes["in_features"], sizes["out_features"])

    def make_mlp() -> MLP:  # a run of replicas stacked MLPs only
        net = make()
        assert isinstance(net, MLP), type(net)
        return net

    if replicas > 1:
        stacked = ReplicaMLP([make_mlp() for _ in range(replicas)], make_mlp)
        _load_weights(stacked, checkpoint, ckpt)
        chosen = _choose_replica(checkpoint, sizes["task"], replica or "best", replicas)
        return stacked.replica(chosen).eval(), sizes
    net = _load_weights(make(), checkpoint, ckpt)
    if replica not in (None, "best", "worst", "0"):
        raise ConfigError(
            f"replica={replica}: checkpoint '{ckpt}' holds one network, not replicas "
            f"(it was trained without trainer.replicas; valid: best, worst, 0, or leave it out)"
        )
    return net.eval(), sizes


def _load_weights(
    net: torch.nn.Module, checkpoint: dict[str, Any], ckpt: str | Path
) -> torch.nn.Module:
    """``net`` with the checkpoint's weights of the LightningModule's ``net``."""
    prefix = "net."
    weights = {
        k.removeprefix(prefix): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith(prefix)
    }
    try:
        net.load_state_dict(weights)
    except RuntimeError as error:
        raise ConfigError(f"checkpoint '{ckpt}' does not fit its own config: {error}") from error
    return net


def _choose_replica(checkpoint: dict[str, Any], task: str, replica: str, replicas: int) -> int:
    if replica not in ("best", "worst"):
        if not replica.isdigit() or int(replica) >= replicas:
            raise ConfigError(
                f"replica={replica} is not valid (choose from: best, worst, 0..{replicas - 1})"
            )
        return int(replica)
    monitor, mode = checkpoint.get("nnkit_objective", (TASKS[task].monitor, TASKS[task].mode))
    scores = checkpoint.get("nnkit_replica_scores", {}).get(monitor)
    if scores is None:
        raise ConfigError(
            f"this checkpoint has no {monitor} per replica: choose replica=0..{replicas - 1}"
        )
    highest = (mode == "max") == (replica == "best")
    return int(scores.argmax() if highest else scores.argmin())


def checkpoint_config(ckpt: str | Path) -> dict[str, Any]:
    """The run's own config, as the checkpoint keeps it (plain data)."""
    return read_checkpoint(ckpt)["hyper_parameters"]["config"]


def net_inputs(raw: torch.Tensor, sizes: dict[str, Any], what: str) -> torch.Tensor:
    """Raw inputs ``(N, F)`` as the network saw its training data: standardised with the
    training split's statistics where the data was. Non-finite values are refused."""
    if raw.shape[-1] != sizes["in_features"]:
        raise ConfigError(
            f"{what} has {raw.shape[-1]} values a row; this model takes {sizes['in_features']}"
            + (f" ({', '.join(sizes['features'])})" if sizes.get("features") else "")
        )
    x = raw.to(torch.float32)
    if not torch.isfinite(x).all():
        row = int((~torch.isfinite(x)).any(dim=1).nonzero()[0])
        raise ConfigError(f"{what}, row {row + 1}, does not fit in float32 (largest: ±3.4e38)")
    if sizes.get("mean"):
        x = (x - torch.tensor(sizes["mean"])) / torch.tensor(sizes["std"])  # (N, F)
    return x


@torch.no_grad()
def outputs_of(net: torch.nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    """The network's outputs for ``x``; refused where a row drives them to infinity."""
    outputs = net(x)  # (N, out)
    bad = ~torch.isfinite(outputs).all(dim=-1)
    if bad.any():
        row = int(bad.nonzero()[0])
        raise ConfigError(
            f"{what}, row {row + 1}, drives the network's outputs to {outputs[row].tolist()}: "
            f"values this far outside the training data have no finite answer"
        )
    return outputs

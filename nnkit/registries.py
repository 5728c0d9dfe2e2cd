"""The one list of nnkit's registries, and the config groups that name their entries.

Each registry is defined beside what it registers; this module only lists them. Adding a
registry is one line in ``REGISTRIES`` (and one in ``CONFIG_GROUPS`` if a config group names
its entries).

>>> [registry.kind for registry in REGISTRIES]
['activation', 'loss', 'dataset', 'model', 'optimizer']
>>> CONFIG_GROUPS["data"].registry is DATASETS
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnkit.activations import ACTIVATIONS
from nnkit.data.dataset import DATASETS
from nnkit.losses import LOSSES
from nnkit.models import MODELS
from nnkit.optimizers import OPTIMIZERS
from nnkit.registry import Registry

REGISTRIES: tuple[Registry[Any], ...] = (ACTIVATIONS, LOSSES, DATASETS, MODELS, OPTIMIZERS)


@dataclass(frozen=True)
class ConfigGroup:
    """A config group whose ``name`` key looks an entry up in ``registry``; its other keys are
    the entry's parameters, after the first ``skip`` ones that nnkit passes itself (data sizes,
    the weights), plus nnkit's own ``reserved`` keys with their defaults."""

    registry: Registry[Any]
    skip: int = 0
    reserved: dict[str, Any] = field(default_factory=dict)

    def params(self, section: dict[str, Any]) -> dict[str, Any]:
        """A plain section's entry parameters: every key but ``name`` and the reserved ones."""
        return {k: v for k, v in section.items() if k != "name" and k not in self.reserved}


CONFIG_GROUPS: dict[str, ConfigGroup] = {
    "model": ConfigGroup(MODELS, skip=2),  # in_features, out_features
    "data": ConfigGroup(DATASETS, reserved={"batch_size": 32, "eval_batch_size": 0}),
    "loss": ConfigGroup(LOSSES),
    "optimizer": ConfigGroup(OPTIMIZERS, skip=1),  # the parameters to optimize
}


def registry_of(kind: str) -> Registry[Any]:
    """The registry whose entries are of ``kind`` ("activation", "model", ...)."""
    return {registry.kind: registry for registry in REGISTRIES}[kind]

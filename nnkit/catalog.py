"""The one list of nnkit's registries.

Each registry is defined beside what it registers; this module only lists them. Adding a
registry is one line in ``REGISTRIES`` (and one in ``nnkit.config.groups.CONFIG_GROUPS`` if a
config group names its entries).

>>> [registry.kind for registry in REGISTRIES]
['activation', 'loss', 'dataset', 'model', 'optimizer', 'initializer', 'scheduler']
>>> registry_of("dataset") is DATASETS
True
"""

from __future__ import annotations

from typing import Any

from nnkit.activations import ACTIVATIONS
from nnkit.data.dataset import DATASETS
from nnkit.initializers import INITIALIZERS
from nnkit.losses import LOSSES
from nnkit.models import MODELS
from nnkit.optimizers import OPTIMIZERS
from nnkit.optimizers.schedulers import SCHEDULERS
from nnkit.registry import Registry

REGISTRIES: tuple[Registry[Any], ...] = (
    ACTIVATIONS, LOSSES, DATASETS, MODELS, OPTIMIZERS, INITIALIZERS, SCHEDULERS,
)  # fmt: skip


def registry_of(kind: str) -> Registry[Any]:
    """The registry whose entries are of ``kind`` ("activation", "model", ...)."""
    return {registry.kind: registry for registry in REGISTRIES}[kind]

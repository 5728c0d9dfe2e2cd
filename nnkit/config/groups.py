"""The config groups that name registry entries: ``model``, ``data``, ``loss``, ``optimizer``,
``scheduler``.

A file ``conf/data/circular.yaml`` exists because ``DATASETS`` has ``circular``; its keys are
that entry's parameters, after the ones nnkit passes itself, plus nnkit's own reserved keys.

>>> CONFIG_GROUPS["data"].registry is DATASETS
True
>>> CONFIG_GROUPS["data"].params({"name": "circular", "n": 100, "batch_size": 8})
{'n': 100}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnkit.data.dataset import DATASETS
from nnkit.losses import LOSSES
from nnkit.models import MODELS
from nnkit.optimizers import OPTIMIZERS
from nnkit.optimizers.schedulers import SCHEDULE_KEYS, SCHEDULERS
from nnkit.registry import Registry


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
    "scheduler": ConfigGroup(SCHEDULERS, skip=2, reserved=SCHEDULE_KEYS),  # optimizer, total
}

"""nnkit: neural networks demystified — hand-derived gradients, proved, trained with Lightning.

Importing nnkit registers the built-ins; it touches no disk, network or GPU, and imports no
Lightning, Hydra, TensorBoard or matplotlib.

>>> import nnkit
>>> nnkit.ACTIVATIONS.get("rleu")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nnkit.registry.UnknownNameError: unknown activation 'rleu' — did you mean 'relu'? (available: ...)
"""

from nnkit.activations import ACTIVATIONS, build_activation
from nnkit.catalog import REGISTRIES
from nnkit.data import DATASETS, TensorData
from nnkit.initializers import INITIALIZERS
from nnkit.losses import LOSSES, build_loss
from nnkit.maths.contract import Contract
from nnkit.models import MODELS, build_model
from nnkit.optimizers import OPTIMIZERS, build_optimizer
from nnkit.optimizers.schedulers import SCHEDULERS
from nnkit.registry import Registry, RegistryError, UnknownNameError

__version__ = "0.1.0"


def load_model(ckpt, replica="best"):
    """The trained network in a checkpoint and its data sizes (``nnkit.inference.load``)."""
    from nnkit.inference.load import load_model as _load_model

    return _load_model(ckpt, replica)


register_activation = ACTIVATIONS.register
register_loss = LOSSES.register
register_dataset = DATASETS.register
register_model = MODELS.register
register_optimizer = OPTIMIZERS.register
register_initializer = INITIALIZERS.register
register_scheduler = SCHEDULERS.register

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "INITIALIZERS",
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "REGISTRIES",
    "SCHEDULERS",
    "Contract",
    "Registry",
    "RegistryError",
    "TensorData",
    "UnknownNameError",
    "build_activation",
    "build_loss",
    "build_model",
    "build_optimizer",
    "load_model",
    "register_activation",
    "register_dataset",
    "register_initializer",
    "register_loss",
    "register_model",
    "register_optimizer",
    "register_scheduler",
]

"""Make ``hydra/sweeper=optuna`` nnkit's sweeper in this process.

Hydra finds plugins by listing the ``hydra_plugins`` namespace on disk, which an editable
install of nnkit does not expose (its files are mapped by an import hook, not laid out in
site-packages); ``register()`` imports the plugin and registers it with Hydra by hand, and
a config that names ``hydra-optuna-sweeper``'s class is pointed at nnkit's, whose keys are
the same.

>>> register()
>>> from hydra.core.plugins import Plugins
>>> SWEEPER in Plugins.instance().class_name_to_class
True
"""

from __future__ import annotations

from nnkit.search.config import FORMER_SWEEPER, SWEEPER, store_configs


def register() -> None:
    """Register nnkit's ``OptunaSweeper`` with Hydra (idempotent)."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.nnkit_optuna_sweeper.optuna_sweeper import OptunaSweeper

    Plugins.instance().register(OptunaSweeper)
    store_configs()  # after Hydra's own scan, which may have found hydra-optuna-sweeper's


def retarget(sweeper_target: str) -> list[str]:
    """The override that points a config written for ``hydra-optuna-sweeper`` at nnkit's
    sweeper (none for any other sweeper).

    >>> retarget(FORMER_SWEEPER)
    ['hydra.sweeper._target_=hydra_plugins.nnkit_optuna_sweeper.optuna_sweeper.OptunaSweeper']
    >>> retarget("hydra._internal.core_plugins.basic_sweeper.BasicSweeper")
    []
    """
    return [f"hydra.sweeper._target_={SWEEPER}"] if sweeper_target == FORMER_SWEEPER else []

"""nnkit's Optuna sweeper for Hydra (``hydra/sweeper=optuna``), found by Hydra's plugin
discovery in the ``hydra_plugins`` namespace; the work is in ``nnkit.search``."""

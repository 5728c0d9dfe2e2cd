"""Hyperparameter searches on current Optuna, driven by Hydra: ``hydra/sweeper=optuna``.

The sweeper (``sweeper``) asks Optuna's study for trials and launches them through Hydra's
launcher, with the search-space grammar and config keys of ``hydra-optuna-sweeper``
(``space``, ``config``); each trial's job reports its validation objective every epoch to the
study and stops when the pruner says so (``trial``); studies in a database are shared by
several workers and survive a worker killed mid-trial or a database restarted mid-study
(``study``).
"""

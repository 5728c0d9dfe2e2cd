"""The commands, one module each: ``train`` (the main job's command line: the preflight, Hydra,
the sweep's summary), ``gradcheck``, ``predict``, ``list``, ``draw``, ``explain``. Users type
``python -m nnkit.train`` and friends: those top-level modules are these commands' public paths
(``nnkit.train`` also holds ``run`` and ``train`` for Python)."""

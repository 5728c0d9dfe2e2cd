"""``python -m nnkit.train [overrides]``: the main job, from the command line
(``nnkit.commands.train``) or from Python: ``run(overrides)`` composes the config and trains,
``train(cfg, run_dir)`` trains a composed config (``nnkit.training.job``).

>>> from nnkit.train import run, train
"""

from nnkit.training.job import run, train

__all__ = ["run", "train"]

if __name__ == "__main__":
    from nnkit.commands.train import main

    main()

"""Training: the job (``job``), the Trainer and its callbacks (``trainer``, ``callbacks``),
the LightningModule (``lightning_module``), the direct and compiled steps
(``direct_update``, ``compiled``) and divergence checks (``divergence``).

>>> from nnkit.training.job import run
"""

"""What a trained run gives: its network loaded from a checkpoint (``load``), predictions
(``predictions``), the example a drawing or an explanation shows (``example``), and the
``key=value`` arguments of those commands (``arguments``).

>>> from nnkit.inference.load import load_model
"""

"""The proof: every hand-derived op checked against torch's autograd in float64 (``ops``),
the linear layer and the whole-network Function (``networks``), the rows both report
(``rows``), and the proof of a run's own ops before its first step (``before_run``).

>>> from nnkit.proof.ops import check_activation
"""

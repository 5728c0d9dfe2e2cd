"""The mathematics: hand-derived forward and backward passes (activations, losses, the linear
layer, the whole network), their gradient contracts and backends. Imports torch only.

>>> from nnkit.maths.functions import sigmoid_forward
"""

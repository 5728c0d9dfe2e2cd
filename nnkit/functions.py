"""The hand-derived Functions and forward/backward pairs, where plugin authors import them
(``nnkit.functions.Pair``); they live in ``nnkit.maths.functions`` and ``nnkit.maths.linear``.

>>> from nnkit.functions import Pair, sigmoid_backward, sigmoid_forward
>>> pair = Pair(sigmoid_forward, lambda x, y, grad: sigmoid_backward(y, grad))
"""

from nnkit.maths.functions import (
    IDENTITY,
    RELU,
    SIGMOID,
    STE_CHOICES,
    IdentityFunction,
    Pair,
    ReLUFunction,
    SigmoidFunction,
    StepFunction,
    identity,
    relu,
    relu_backward,
    relu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_forward,
    step,
    step_backward,
    step_forward,
    step_pair,
)
from nnkit.maths.linear import LinearFunction, linear, linear_backward, linear_forward

__all__ = [
    "IDENTITY",
    "RELU",
    "SIGMOID",
    "STE_CHOICES",
    "IdentityFunction",
    "LinearFunction",
    "Pair",
    "ReLUFunction",
    "SigmoidFunction",
    "StepFunction",
    "identity",
    "linear",
    "linear_backward",
    "linear_forward",
    "relu",
    "relu_backward",
    "relu_forward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_forward",
    "step",
    "step_backward",
    "step_forward",
    "step_pair",
]

"""A plugin whose hand-derived backward is wrong: x² with a derivative of 3x (it is 2x)."""

import torch

import nnkit


@nnkit.register_activation("wrong_square")
class WrongSquare(torch.autograd.Function):
    contract = nnkit.Contract("smooth")

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * grad

    @staticmethod
    def reference(x):
        return x * x

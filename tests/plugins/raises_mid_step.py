"""A plugin that passes its proof and raises in training: ReLU, but a batch of 9 rows breaks it."""

import torch

import nnkit


@nnkit.register_activation("raises_mid_step")
class RaisesMidStep(torch.autograd.Function):
    contract = nnkit.Contract("piecewise", kinks=(0.0,))

    @staticmethod
    def forward(x):
        if x.dim() == 2 and x.shape[0] == 9:
            raise RuntimeError("raises_mid_step cannot take 9 rows")
        return x.clamp(min=0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0).to(grad.dtype)

    @staticmethod
    def reference(x):
        return torch.relu(x)

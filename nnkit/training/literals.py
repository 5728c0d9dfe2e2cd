"""Tensors as Python literals that read back exactly, wrapped to 100 columns: the numbers at
the bottom of a script ``python -m nnkit.script`` writes (``nnkit.training.plain_script``).

>>> values(torch.tensor([[0.1, -2.0], [3.5, 1e-3]]))
'[[0.1, -2.0], [3.5, 0.001]]'
>>> torch.equal(torch.tensor(eval(values(torch.tensor([0.1, 1 / 3])))), torch.tensor([0.1, 1 / 3]))
True
"""

from __future__ import annotations

import textwrap

import torch


def entry(name: str, x: torch.Tensor, y: torch.Tensor) -> str:
    """One split of ``data()``: its inputs and targets, wrapped."""
    inputs = wrapped(f"        {name!r}: (", values(x) + ",", "            ")
    return inputs + "\n" + wrapped("            ", values(y) + "),", "            ")


def wrapped(first: str, text: str, indent: str) -> str:
    """``text`` after ``first``, in lines of at most 100 characters (between numbers)."""
    return textwrap.fill(
        text, width=100, initial_indent=first, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip


def values(tensor: torch.Tensor) -> str:
    """A tensor's values as a Python literal that reads back exactly (each float its shortest
    repr in the tensor's precision)."""
    if not tensor.dtype.is_floating_point:
        return repr(tensor.tolist())
    import numpy as np

    flat = tensor.numpy().ravel()
    texts = [np.format_float_positional(v, unique=True, trim="0") for v in flat]
    return _nest(texts, list(tensor.shape))


def _nest(texts: list[str], shape: list[int]) -> str:
    if len(shape) <= 1:
        return "[" + ", ".join(texts) + "]"
    size = len(texts) // shape[0]
    return (
        "["
        + ", ".join(_nest(texts[i : i + size], shape[1:]) for i in range(0, len(texts), size))
        + "]"
    )

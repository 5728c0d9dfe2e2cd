"""``seven_segment``: the ten digits as the 7 segments of a digital display.

The segments are named a–g in the standard encoding::

     aaa
    f   b
     ggg
    e   c
     ddd

Each digit is a row of 7 bits (a, b, c, d, e, f, g); the 6 of the article is ``1011111``.

>>> data = seven_segment()
>>> data.train[0][6].tolist(), int(data.train[1][6])
([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0], 6)
"""

from __future__ import annotations

import torch

from nnkit.data.dataset import DATASETS, TensorData, check_range, check_size

SEGMENTS = "abcdefg"
DIGITS = (
    "1111110",  # 0
    "0110000",  # 1
    "1101101",  # 2
    "1111001",  # 3
    "0110011",  # 4
    "1011011",  # 5
    "1011111",  # 6
    "1110000",  # 7
    "1111111",  # 8
    "1111011",  # 9
)


def digit_segments() -> torch.Tensor:
    """The ten clean digits, ``(10, 7)`` float 0/1, row i is digit i."""
    return torch.tensor([[float(bit) for bit in row] for row in DIGITS])


@DATASETS.register("seven_segment")
def seven_segment(noise: float = 0.0, copies: int = 0, seed: int = 0) -> TensorData:
    """The ten clean digits, plus ``copies`` noisy copies of each for training, where every
    segment flips with probability ``noise``. Validation and test are the clean ten digits."""
    check_range("seven_segment", "noise", noise, 0.0, 1.0, low_inclusive=True)
    check_range("seven_segment", "copies", copies, 0, low_inclusive=True)
    check_size("seven_segment", 10 * (copies + 1), 7)
    clean = digit_segments()  # (10, 7)
    labels = torch.arange(10)
    generator = torch.Generator().manual_seed(seed)
    noisy = clean.repeat(copies, 1)  # (10 * copies, 7)
    flips = torch.rand(noisy.shape, generator=generator) < noise
    noisy = torch.where(flips, 1.0 - noisy, noisy)
    train = (torch.cat([clean, noisy]), labels.repeat(copies + 1))
    return TensorData(train, (clean, labels), (clean, labels), "multiclass", classes=10)

"""``digits``: scikit-learn's bundled 8×8 handwritten digits (1,797 images, shipped inside
scikit-learn, nothing downloaded). Needs the ``digits`` extra: ``pip install nnkit[digits]``."""

from __future__ import annotations

import torch

from nnkit.data.dataset import DATASETS, TensorData, split


@DATASETS.register("digits")
def digits(seed: int = 0) -> TensorData:
    """Pixels scaled to [0, 1] as 64 inputs, labels 0–9; split 70/15/15 with ``seed``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "dataset 'digits' needs scikit-learn: pip install 'nnkit[digits]'"
        ) from error
    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0  # (1797, 64)
    y = torch.tensor(bunch.target, dtype=torch.int64)  # (1797,)
    return split(x, y, "multiclass", seed, classes=10)

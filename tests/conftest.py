"""Shared fixtures: every test gets the registries back as they were, so no name leaks."""

from __future__ import annotations

import pytest

import nnkit

REGISTRIES = (nnkit.ACTIVATIONS, nnkit.LOSSES, nnkit.DATASETS, nnkit.MODELS)


@pytest.fixture(autouse=True)
def restore_registries():
    """Snapshot the four registries before a test and restore them after it."""
    states = [registry.snapshot() for registry in REGISTRIES]
    yield
    for registry, state in zip(REGISTRIES, states, strict=True):
        registry.restore(state)

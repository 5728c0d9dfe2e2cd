"""Shared fixtures: every test gets the registries and the plugin policy back as they were."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from nnkit.catalog import REGISTRIES
from nnkit.plugins import POLICY, LoadingPolicy

collect_ignore = ["plugins"]  # plugin files the tests load by path; importing them registers
if not torch.cuda.is_available():  # the CUDA checks run on a GPU machine: scripts/gpu_check.sh
    collect_ignore.append("test_cuda.py")


@pytest.fixture(autouse=True)
def restore_registries():
    """Snapshot every registry (and the plugin loading policy) before a test and restore them
    after it."""
    states = [registry.snapshot() for registry in REGISTRIES]
    yield
    for registry, state in zip(REGISTRIES, states, strict=True):
        registry.restore(state)
    POLICY.__dict__.update(LoadingPolicy().__dict__)


# Fuzzing budgets (tests/test_fuzz.py): "ci" by default, "long" with --hypothesis-profile=long.
settings.register_profile("ci", max_examples=150, deadline=None)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile("ci")

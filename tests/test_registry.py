from __future__ import annotations

import pytest

import nnkit
from nnkit.registry import Registry, RegistryError, UnknownNameError


def make() -> Registry:
    registry = Registry("activation")
    for name in ("identity", "relu", "sigmoid", "step"):
        registry.register(name, lambda x: x, source="built-in")
    return registry


def test_register_as_decorator_returns_object_unchanged():
    registry = Registry("widget")

    @registry.register("thing")
    class Thing:
        pass

    assert registry.get("thing") is Thing
    assert registry.register("other", len) is len


def test_unknown_name_is_one_line_keyerror_with_did_you_mean_and_choices():
    with pytest.raises(UnknownNameError) as info:
        make().get("rleu")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == (
        "unknown activation 'rleu' — did you mean 'relu'? "
        "(available: identity, relu, sigmoid, step)"
    )


def test_unknown_name_without_close_match_lists_choices_only():
    message = make().unknown_message("zzzzzz")
    assert "did you mean" not in message and "(available: identity, relu" in message


def test_taken_name_names_both_owners_and_override_replaces():
    registry = make()
    with pytest.raises(
        RegistryError,
        match=r"'relu' is already registered by built-in; "
        r"module mine cannot replace it without override=True",
    ):
        registry.register("relu", abs, source="module mine")
    registry.register("relu", abs, source="module mine", override=True)
    assert registry.get("relu") is abs and registry.source("relu") == "module mine"


def test_wrong_type_is_rejected_with_its_type():
    with pytest.raises(
        RegistryError, match=r"activation 'seven' must be a class or a function, got int"
    ):
        make().register("seven", 7)


def test_objects_pass_through_get():
    assert make().get(abs) is abs


def test_names_filters_with_wildcards_and_sorts():
    registry = make()
    assert registry.names() == ["identity", "relu", "sigmoid", "step"]
    assert registry.names("s*") == ["sigmoid", "step"]
    assert registry.names("*e*") == ["identity", "relu", "step"]


def test_source_defaults_to_defining_module():
    registry = Registry("loss")
    registry.register("mine", lambda a, b: a)
    assert registry.source("mine") == f"module {__name__}"


def test_discovery_runs_once_lazily_on_listing_or_miss():
    calls = []

    def discover(registry):
        calls.append(1)
        registry.register("late", len, source="package late 1.0")

    registry = Registry("model", discover=discover)
    registry.register("early", abs)
    assert registry.get("early") is abs and calls == []  # a hit needs no discovery
    assert registry.get("late") is len and calls == [1]
    registry.names()
    assert calls == [1]


def test_unavailable_names_say_why():
    registry = Registry("loss")
    registry.mark_unavailable("broken", "plugin package 'x 1.0' failed to load: boom")
    with pytest.raises(UnknownNameError, match="loss 'broken' is unavailable: plugin package"):
        registry.get("broken")


def test_public_helpers_register_into_the_four_registries():
    @nnkit.register_activation("twice")
    def twice(x):
        return 2 * x

    assert nnkit.ACTIVATIONS.get("twice") is twice
    assert nnkit.ACTIVATIONS.source("twice") == f"module {__name__}"
    for helper, registry in [
        (nnkit.register_loss, nnkit.LOSSES),
        (nnkit.register_dataset, nnkit.DATASETS),
        (nnkit.register_model, nnkit.MODELS),
    ]:
        helper("probe", len)
        assert registry.get("probe") is len


def test_snapshot_and_restore_undo_registrations_and_discovery():
    registry = make()
    state = registry.snapshot()
    registry.register("extra", len)
    registry.mark_unavailable("broken", "it failed")
    registry.restore(state)
    assert "extra" not in registry.names() and registry.unavailable() == {}

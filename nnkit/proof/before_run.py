"""Proof before training: every op a run uses that ``nnkit.gradcheck`` has not already proved
— a plugin's activation or loss, or a built-in with options outside its declared variants — is
proved as ``nnkit.gradcheck`` proves it (float64, random and edge values, the contract's
checks, and the whole network when the activation brings a pair), before the first step.

A failed proof refuses the run (``ConfigError``: one line, exit 2, no folder); an op with no
contract or reference runs, reported as unproved. ``plugin_loading.prove=false`` skips it all.

>>> proof = prove_ops([("activation", "relu", {}), ("loss", "bce", {"reduction": "mean"})])
>>> proof.built_in, proof.checked
(['activation relu', 'loss bce[reduction=mean]'], [])
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from nnkit.catalog import registry_of
from nnkit.errors import ConfigError
from nnkit.plugins import time_limit
from nnkit.registry import BUILTIN

Op = tuple[str, str, dict[str, Any]]  # kind ("activation" or "loss"), registry name, options
DEFAULT_VARIANTS = {"activation": ({},), "loss": ({"reduction": "mean"}, {"reduction": "sum"})}


@dataclass
class RunProof:
    """What was proved before a run: each checked op's row, and the ops left as they were."""

    checked: list[dict[str, Any]] = field(default_factory=list)  # op, verdict, max_rel_error
    unproved: list[str] = field(default_factory=list)  # ops with no contract or reference
    built_in: list[str] = field(default_factory=list)  # proved by nnkit.gradcheck already
    skipped: bool = False  # plugin_loading.prove=false
    seconds: float = 0.0  # how long the proof took

    @property
    def worst_rel_error(self) -> float | None:
        """The largest relative error among the checked rows, or None if none was checked."""
        errors = [row["max_rel_error"] for row in self.checked]
        return max(errors) if errors else None

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for ``metrics.json`` and the checkpoint (the time left out: reruns
        write the same file)."""
        fields = {k: v for k, v in asdict(self).items() if k != "seconds"}
        return {**fields, "worst_rel_error": self.worst_rel_error}

    def summary(self) -> str:
        """One line for the run summary."""
        if self.skipped:
            return "proof: skipped (plugin_loading.prove=false)"
        parts = []
        if self.checked:
            ops = ", ".join(sorted({row["op"] for row in self.checked}))
            parts.append(
                f"{ops} proved before training in {self.seconds:.2f} s "
                f"(worst relative error {self.worst_rel_error:.1e})"
            )
        if self.unproved:
            parts.append(f"UNPROVED: {', '.join(self.unproved)}")
        if self.built_in:
            parts.append(f"{', '.join(self.built_in)} built in (nnkit.gradcheck)")
        return "proof: " + "; ".join(parts)


def run_ops(model: Mapping[str, Any], loss_name: str, loss_options: dict[str, Any]) -> list[Op]:
    """The activations (``model.activation``, with ``model.activation_args``) and the loss a
    run uses, each once."""
    names = model.get("activation")
    names = [names] if isinstance(names, str) else list(names or [])
    options = dict(model.get("activation_args") or {})
    ops: list[Op] = [("activation", name, options) for name in dict.fromkeys(names)]
    return [*ops, ("loss", loss_name, dict(loss_options))]


def _proved_by_gradcheck(kind: str, name: str, options: dict[str, Any]) -> bool:
    """A built-in whose options are among the variants ``nnkit.gradcheck`` proves."""
    registry = registry_of(kind)
    if registry.source(name) != BUILTIN:
        return False
    variants = getattr(registry.get(name), "variants", DEFAULT_VARIANTS[kind])
    return options in [dict(v) for v in variants] or (not options and kind == "activation")


def _rows(kind: str, name: str, options: dict[str, Any]) -> list[Any]:
    from nnkit.proof.networks import brings_pair, check_network
    from nnkit.proof.ops import check_activation, check_loss

    if kind == "loss":
        return check_loss(name, variants=[options])
    rows = check_activation(name, variants=[options])
    if rows[0].verdict == "pass" and brings_pair(name, options):
        rows.append(check_network(name, options))
    return rows


def _label(kind: str, name: str, options: dict[str, Any]) -> str:
    shown = ",".join(f"{k}={v}" for k, v in options.items())
    return f"{kind} {name}" + (f"[{shown}]" if shown else "")


def prove_ops(
    ops: Iterable[Op], prove: bool = True, plugins: Sequence[str] = (), timeout_s: float = 0.0
) -> RunProof:
    """Prove ``ops`` as ``nnkit.gradcheck`` would; a failed row is a one-line ``ConfigError``
    naming the op, its worst relative error and how to see the whole table (``plugins``: the
    run's plugin modules, for that command); an op whose proof takes longer than ``timeout_s``
    (0: no limit) is a one-line ``PluginError`` naming it."""
    proof = RunProof(skipped=not prove)
    started = time.perf_counter()
    for kind, name, options in ops:
        label = _label(kind, name, options)
        if _proved_by_gradcheck(kind, name, options):
            proof.built_in.append(label)
            continue
        if not prove:
            continue
        with time_limit(timeout_s, _hangs(kind, name, label, timeout_s)):
            rows = _rows(kind, name, options)
        for row in rows:
            if row.verdict == "unproved":
                proof.unproved.append(label)
            elif row.verdict != "pass":
                raise ConfigError(_refusal(kind, name, row, plugins))
            else:
                proof.checked.append(
                    {
                        "op": label,
                        "row": row.name,
                        "verdict": row.verdict,
                        "max_rel_error": row.max_rel,
                    }
                )
    proof.seconds = time.perf_counter() - started
    return proof


def _hangs(kind: str, name: str, label: str, timeout_s: float) -> str:
    return (
        f"the gradient proof of {label} ({registry_of(kind).source(name)}) did not finish "
        f"within {timeout_s:g} s: its forward or backward hangs? (plugin_loading.proof_timeout_s "
        f"sets the limit; 0: none)"
    )


def _refusal(kind: str, name: str, row: Any, plugins: Sequence[str]) -> str:
    source = registry_of(kind).source(name)
    command = " ".join(
        ["python -m nnkit.gradcheck", f"'{name}'", *(f"--plugin {p}" for p in plugins)]
    )
    detail = (
        row.detail
        if "relative error" in row.detail
        else (f"worst relative error {row.max_rel:.1e}; {row.detail}")
    )
    return (
        f"{kind} '{name}' ({source}) fails its gradient proof ({row.kind} {row.name}: "
        f"{detail}) — see the table with `{command}`, or train anyway with "
        f"plugin_loading.prove=false"
    )


def unproved_warning(proof: RunProof) -> str | None:
    """The warning line for ops that declare no contract or reference, if any."""
    if not proof.unproved:
        return None
    return (
        f"warning: {', '.join(proof.unproved)} declares no gradient contract and torch "
        f"reference: unproved, its backward is trusted as written"
    )

"""The generated pages of the site, made from the code at every build (mkdocs-gen-files):
the configuration reference (the typed schema), the registries and each activation's and
loss's derivation and gradient contract, the command-line tools and their exit codes, and the
experiments' report with its figures."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import mkdocs_gen_files

import nnkit
from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.reference import KeyRow, option_rows, schema_rows
from nnkit.errors import __doc__ as ERRORS_DOC

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [  # their sources; each is typed as python -m nnkit.NAME
    *(f"commands/{name}" for name in ("train", "gradcheck", "predict", "list", "draw", "explain")),
    "bench/__init__",
]
PROVED = ("activation", "loss")  # registries whose entries carry a gradient contract


def table(rows: list[KeyRow], with_type: bool = True) -> str:
    head = "| key | default | valid | what it is |"
    if with_type:
        head = "| key | type | default | valid | what it is |"
    lines = [head, _rule(head)]
    for row in rows:
        cells = [f"`{row.key}`", row.type, f"`{row.default}`", row.valid, row.doc]
        cells = cells if with_type else [cells[0], *cells[2:]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _rule(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


def config_page() -> str:
    parts = [
        "# Configuration",
        "",
        "Every key of nnkit's typed schema (`nnkit/config/schema.py`), with its type, default, "
        "valid values and its documentation, read from the code; then every option of the "
        "groups whose entries come from a registry, with the keys of its YAML file "
        "(`conf/GROUP/OPTION.yaml`). A key is set on the command line as `key=value`.",
        "",
        "## The schema",
        "",
        table(schema_rows()),
    ]
    for group in CONFIG_GROUPS:
        parts += ["", f"## {group}", "", f"`{group}=OPTION`, then `{group}.KEY=VALUE`.", ""]
        for option, rows in option_rows(group).items():
            parts += [f"### {group}={option}", ""]
            parts += [table(rows, with_type=False) if rows else "No keys of its own.", ""]
    return "\n".join(parts) + "\n"


def entry_page(registry: nnkit.Registry, name: str) -> str:
    """An entry's page: its docstring (an activation's or loss's derivation), its parameters
    (what its config section takes), and for ops its gradient contract."""
    entry = registry.entry(name)
    obj = entry.obj
    parts = [f"# {name}", "", f"One of nnkit's {registry.kind}s ({entry.source}).", ""]
    heading = "Derivation" if registry.kind in PROVED else "What it is"
    parts += [f"## {heading}", "", docstring(obj) or "(no docstring)", ""]
    parts += ["## Parameters", "", fenced(getattr(obj, "__name__", name), obj), ""]
    if registry.kind in PROVED:
        parts += contract_section(obj, name)
    return "\n".join(parts)


def contract_section(obj: object, name: str) -> list[str]:
    contract = getattr(obj, "contract", None)
    reference = getattr(obj, "reference", None)
    parts = ["## Gradient contract", ""]
    if contract is None:
        parts += ["None declared: `python -m nnkit.gradcheck` reports it unproved.", ""]
    else:
        parts += [f"`{contract!r}`", "", _contract_text(contract), ""]
    if reference is not None:
        parts += [f"Checked against the torch reference `{_name(reference)}` in float64 by "
                  f"`python -m nnkit.gradcheck {name}`.", ""]  # fmt: skip
    return parts


def _contract_text(contract: nnkit.Contract) -> str:
    kind = {
        "smooth": "differentiable everywhere: also checked with `torch.autograd.gradcheck`",
        "piecewise": f"differentiable except at the kinks {list(contract.kinks)}: checked away "
        f"from them, and at each kink against the reference's convention",
        "surrogate": "its backward is a chosen surrogate (a straight-through estimator): the "
        "forward must match the reference's forward, the backward the reference's gradient",
    }[contract.kind]
    extra = "; its double backward is checked too" if contract.double_backward else ""
    return f"**{contract.kind}**: {kind}{extra}."


def _name(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def registries_page() -> str:
    intro = (
        "Every built-in entry of nnkit's registries (`python -m nnkit.list` shows plugins' "
        "too), with its first docstring line."
    )
    parts = ["# Registries", "", intro, ""]
    for registry in nnkit.REGISTRIES:
        parts += [f"## {registry.kind}", "", "| name | what it is |", "|---|---|"]
        for name in registry.names():
            doc = (inspect.getdoc(registry.get(name)) or "").split("\n")[0]
            shown = f"[{name}]({registry.kind}/{name}.md)"
            parts.append(f"| {shown} | {doc.replace('|', '/')} |")
        parts.append("")
    return "\n".join(parts)


def commands_page() -> str:
    parts = ["# Commands", "", "Each command's own documentation (its module's docstring).", "",
             "## Exit codes", "", ERRORS_DOC or "", ""]  # fmt: skip
    for module in COMMANDS:
        source = (ROOT / "nnkit" / f"{module}.py").read_text()
        name = "nnkit." + module.removesuffix("/__init__").removeprefix("commands/")
        parts += [f"## {name}", "", ast.get_docstring(ast.parse(source)) or "", ""]
    return "\n".join(parts)


API_MODULES = ("nnkit", "nnkit.train", "nnkit.testing", "nnkit.functions")


def api_page() -> str:
    """Each public module's docstring, then every name of its ``__all__`` with its signature
    and docstring (a class with its public methods); doctests shown as Python sessions."""
    intro = (
        "The public API, from its docstrings (their examples are doctests: the suite runs them)."
    )
    parts = ["# Python API", "", intro, ""]
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        parts += [f"## {module_name}", "", docstring(module), ""]
        for name in public_names(module):
            parts += api_entry(f"{module_name}.{name}", getattr(module, name))
    return "\n".join(parts)


def public_names(module: object) -> list[str]:
    """``__all__``, or else the functions and classes the module defines under public names."""
    found = getattr(module, "__all__", None)
    if found is not None:
        return list(found)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == getattr(module, "__name__", "")
    ]


def api_entry(path: str, obj: object) -> list[str]:
    """One public name: its signature and docstring; a class's public methods too."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        summary = docstring(type(obj)).split("\n")[0]
        return [f"### {path}", "", f"A `{type(obj).__name__}`: {summary}", ""]
    parts = [f"### {path}", "", fenced(obj.__name__, obj), "", docstring(obj), ""]
    if inspect.isclass(obj):
        for name, member in vars(obj).items():
            if not name.startswith("_") and inspect.isfunction(member) and member.__doc__:
                parts += [
                    f"#### {path}.{name}",
                    "",
                    fenced(name, member),
                    "",
                    docstring(member),
                    "",
                ]
    return parts


def fenced(name: str, obj: object) -> str:
    try:
        signature = str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        signature = "(...)"
    return f"```python\n{name}{signature}\n```"


def docstring(obj: object) -> str:
    """``obj``'s docstring as Markdown: its doctest blocks fenced as Python sessions."""
    out: list[str] = []
    in_session = False
    for line in (inspect.getdoc(obj) or "").splitlines():
        if line.lstrip().startswith(">>>") and not in_session:
            out += ["", "```pycon"]
            in_session = True
        elif in_session and not line.strip():
            out += ["```", ""]
            in_session = False
        out.append(line.strip() if in_session else line)
    return "\n".join([*out, "```"] if in_session else out)


def experiments_report() -> None:
    report = (ROOT / "experiments" / "README.md").read_text()
    with mkdocs_gen_files.open("explanation/experiments-report.md", "w") as page:
        page.write(report)
    for figure in sorted((ROOT / "experiments" / "figures").glob("*")):
        with mkdocs_gen_files.open(f"explanation/figures/{figure.name}", "wb") as out:
            out.write(figure.read_bytes())


def write(path: str, text: str) -> None:
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(text)


write("reference/config.md", config_page())
write("reference/registries.md", registries_page())
write("reference/commands.md", commands_page())
write("reference/api.md", api_page())
for registry in nnkit.REGISTRIES:
    for entry_name in registry.names():
        write(f"reference/{registry.kind}/{entry_name}.md", entry_page(registry, entry_name))
experiments_report()

"""The layout rules of docs/architecture.md, checked on the source tree.

- No import cycle among crmcore's modules, counting imports under
  ``TYPE_CHECKING`` and inside functions: a cycle is where layers tangle.
- The domain (values, models) imports nothing from storage, services, the
  CLI or cattrs; storage imports no service.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def _modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / "crmcore").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(max(node.level - 1, 0)):
        base = base.rpartition(".")[0]
    if node.level:
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    for alias in node.names:
        # ``from pkg import submodule`` depends on the submodule, not on pkg's body.
        sub = f"{target}.{alias.name}"
        yield sub if sub in MODULES else target


def import_graph() -> dict[str, set[str]]:
    """Each crmcore module and the crmcore modules it imports anywhere in its body."""
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in MODULES.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, is_package, node):
                    while target and target not in MODULES:
                        target = target.rpartition(".")[0]
                    if target and target != module:
                        deps.add(target)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere_in_crmcore() -> None:
    assert cycles(import_graph()) == []


DOMAIN = (
    "crmcore.errors",
    "crmcore.ids",
    "crmcore.values",
    "crmcore._validation",
    "crmcore.contacts",
    "crmcore.consent",
    "crmcore.customers",
    "crmcore.leads",
    "crmcore.interactions",
    "crmcore.merge_record",
    "crmcore._work",
    "crmcore.pipelines",
    "crmcore.opportunities",
    "crmcore.tasks",
    "crmcore.cases",
)


@pytest.mark.parametrize("module", [m for m in DOMAIN if m in MODULES])
def test_the_domain_imports_no_outer_layer(module: str) -> None:
    path, _ = MODULES[module]
    imported = {
        alias.name if isinstance(node, ast.Import) else (node.module or "")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    outer = ("crmcore.storage", "crmcore.cli", "crmcore.io", "crmcore.dedup", "crmcore.merge.")
    assert not {name for name in imported if name.startswith(outer) or name == "cattrs"}


def test_storage_imports_no_service() -> None:
    graph = import_graph()
    services = ("crmcore.merge.", "crmcore.conversion", "crmcore.timeline", "crmcore.writes")
    for module, deps in graph.items():
        if module.startswith("crmcore.storage"):
            assert not {d for d in deps if d.startswith(services) or d == "crmcore.merge"}, module

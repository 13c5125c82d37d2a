"""The house's rules, checked on the source (issue 14): no import circles between gateway
modules (imports under `TYPE_CHECKING` count too), and table objects used only by the SQL
(`store*` modules) of the area that owns them, plus the schema and migrations."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "gateway"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> Iterator[str]:
    """Every module name this file imports, resolved (relative imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


GRAPH = {
    name: {target for target in _imported(name, path) if target in MODULES and target != name}
    for name, path in MODULES.items()
}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles() -> None:
    assert _cycles() == []


def test_the_checker_sees_a_circle() -> None:
    GRAPH["gateway.platform.names"].add("gateway.app")  # app imports names (indirectly): a circle
    try:
        assert _cycles() != []
    finally:
        GRAPH["gateway.platform.names"].discard("gateway.app")


def _may_use_tables(name: str) -> bool:
    leaf = name.rpartition(".")[2]
    return (
        leaf.startswith("store")
        or leaf == "tables"
        or name.startswith("gateway.platform.")
        or name == "gateway.schema"
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_tables_are_used_only_by_store_modules(name: str) -> None:
    if _may_use_tables(name):
        return
    tables = {target for target in GRAPH[name] if target.endswith(".tables")}
    assert not tables, f"{name} imports {sorted(tables)}: SQL belongs in a store module"


# Read-only joins with the shipment (and its store) where one query serves a page or a plan;
# writes to another area's tables go through that area's store functions. Keep this list short.
JOINS: frozenset[tuple[str, str]] = frozenset(
    {
        ("gateway.drivers.store_proofs", "gateway.shipments.tables"),
        ("gateway.drivers.store_routes", "gateway.shipments.tables"),
        ("gateway.notifications.store_reads", "gateway.shipments.tables"),
        ("gateway.notifications.store_reads", "gateway.tenants.tables"),
        ("gateway.tracking.store", "gateway.shipments.tables"),
        ("gateway.tracking.store", "gateway.tenants.tables"),
        ("gateway.tracking.store_links", "gateway.shipments.tables"),
        ("gateway.tracking.store_ratings", "gateway.shipments.tables"),
        ("gateway.tracking.store_short_links", "gateway.shipments.tables"),
    }
)


def test_a_store_uses_only_its_own_areas_tables() -> None:
    trespass = [
        (name, target)
        for name in MODULES
        if name.rpartition(".")[2].startswith("store")
        for target in GRAPH[name]
        if target.endswith(".tables")
        and not target.startswith("gateway.platform.")
        and target.split(".")[1] != name.split(".")[1]
        and (name, target) not in JOINS
    ]
    assert trespass == []

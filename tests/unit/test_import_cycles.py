"""No import cycles among mediaflow's packages, read from the source: a package is a first-level subpackage
(``mediaflow.workers``) or a top-level module (``mediaflow.catalog``). Imports inside functions count (they
still tie the packages together); imports under ``if TYPE_CHECKING:`` do not (they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2] / "layers" / "core" / "mediaflow"


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mediaflow" or len(parts) < 2:
        return None
    return parts[1]


def _module_of(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module an import statement names (``from mediaflow import x`` names ``mediaflow.x``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (name for child in node.orelse for name in _imports(child, module, is_package))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        yield from _imports(node, module, is_package)


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    known = {path.stem if path.is_file() else path.name for path in ROOT.iterdir()
             if path.suffix == ".py" or (path / "__init__.py").exists()}
    for path in ROOT.rglob("*.py"):
        module = _module_of(path)
        source = _package(module)
        if source is None:
            continue
        targets = graph.setdefault(source, set())
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py"):
            target = _package(imported)
            if target is not None and target != source and target in known:
                targets.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _path(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """One circle through ``start`` inside a component, for the failure message."""
    trail, seen = [start], {start}
    while True:
        following = sorted(target for target in graph[trail[-1]] if target in members)
        if start in following and len(trail) > 1:
            return [*trail, start]
        fresh = [target for target in following if target not in seen]
        if not fresh:
            return [*trail, following[0]]
        trail.append(fresh[0])
        seen.add(fresh[0])


def test_the_graph_sees_the_packages_and_their_imports() -> None:
    graph = package_graph()
    assert {"catalog", "nodes", "workers", "execution", "compiler", "api", "cloud", "adapters"} <= set(graph)
    assert "catalog" in graph["workers"] and "execution" in graph["workers"]


def test_no_import_cycles_between_packages() -> None:
    graph = package_graph()
    circles = [" -> ".join(_path(graph, component[0], set(component))) for component in cycles(graph)]
    assert not circles, "import cycles among mediaflow packages:\n" + "\n".join(circles)

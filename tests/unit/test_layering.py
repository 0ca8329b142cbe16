"""The layering rules, read from the import graph and the syntax tree of layers/core/mediaflow.

- The AWS side (``cloud/``, ``adapters/aws/``) and the deployment-neutral API (``api/``) never import the
  embedded wing (``mediaflow.embedded``) or the embedded adapters (``mediaflow.adapters.embedded``); every
  import counts, at module level, inside functions and under ``TYPE_CHECKING``.
- No caller probes a port with ``getattr(obj, "<port method>")``: a method a port needs is declared in
  ``ports.py`` and implemented by every adapter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "mediaflow"
NEUTRAL_OF_EMBEDDED = ("mediaflow.cloud", "mediaflow.adapters.aws", "mediaflow.api")
EMBEDDED = ("mediaflow.embedded", "mediaflow.adapters.embedded")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = ["mediaflow", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST, source: str, is_package: bool = False) -> Iterator[Edge]:
    """Every module ``source`` imports, wherever the import statement sits."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Edge(source, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = source.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Edge(source, module, node.lineno)
            for alias in node.names:  # `from mediaflow import embedded` imports the submodule
                yield Edge(source, f"{module}.{alias.name}", node.lineno)


def import_graph(root: Path = PACKAGE) -> list[Edge]:
    edges: list[Edge] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges.extend(imports(tree, module_name(path, root), path.name == "__init__.py"))
    return edges


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def embedded_leaks(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if within(e.source, NEUTRAL_OF_EMBEDDED) and within(e.target, EMBEDDED)]


def port_methods(ports: Path = PACKAGE / "ports.py") -> set[str]:
    """The names of the methods the Protocols in ports.py declare."""
    tree = ast.parse(ports.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id == "Protocol" for base in node.bases):
            names.update(item.name for item in node.body if isinstance(item, ast.FunctionDef)
                         and not item.name.startswith("_"))
    return names


def getattr_probes(tree: ast.AST, methods: set[str]) -> list[tuple[int, str]]:
    """``getattr(x, "name"[, default])`` calls whose name is a port method."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in methods):
            found.append((node.lineno, str(node.args[1].value)))
    return found


def test_the_aws_side_and_the_api_never_import_the_embedded_wing() -> None:
    edges = import_graph()
    assert any(within(e.source, ("mediaflow.cloud",)) for e in edges)  # the walk saw the AWS side
    leaks = embedded_leaks(edges)
    assert leaks == [], "\n".join(f"{e.source}:{e.line} imports {e.target}" for e in leaks)


def test_no_caller_probes_a_port_method_with_getattr() -> None:
    methods = port_methods()
    assert {"release", "copy", "local_path", "presigned_post", "redrive", "kick", "finish_run"} <= methods
    probes = [f"{module_name(path)}:{line} getattr(..., {name!r})" for path in sorted(PACKAGE.rglob("*.py"))
              for line, name in getattr_probes(ast.parse(path.read_text(encoding="utf-8")), methods)]
    assert probes == [], "\n".join(probes)


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """Both rules on a small package of their own: a lazy import inside a function, a relative import, and
    a probe, each found."""
    (tmp_path / "cloud").mkdir()
    (tmp_path / "cloud" / "__init__.py").write_text("")
    (tmp_path / "cloud" / "runs.py").write_text(
        "def finish(store):\n"
        "    from mediaflow.embedded.app import LocalService\n"
        "    release = getattr(store, 'release', None)\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("from ..adapters.embedded import sqlite\n")
    leaks = embedded_leaks(import_graph(tmp_path))
    assert {(e.source, e.target) for e in leaks} >= {
        ("mediaflow.cloud.runs", "mediaflow.embedded.app"), ("mediaflow.api", "mediaflow.adapters.embedded")}
    tree = ast.parse((tmp_path / "cloud" / "runs.py").read_text())
    assert getattr_probes(tree, port_methods()) == [(3, "release")]

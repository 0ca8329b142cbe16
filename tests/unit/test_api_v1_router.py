"""The /api/v1 router and its shapes translate and nothing else: they import use cases, HTTP helpers and
translation only (no adapter, runtime, compiler, node or storage module), reach no port of the context
themselves, and keep every handler short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
API = Path(__file__).resolve().parents[2] / "layers" / "core" / "mediaflow" / "api"
MODULES = [API / "routes" / "api_v1.py", API / "compat_v1.py"]
ALLOWED = ("mediaflow.api.workflows", "mediaflow.api.runs", "mediaflow.api.deployments", "mediaflow.api.executions",
           "mediaflow.api.http", "mediaflow.api.problems", "mediaflow.api.routes", "mediaflow.api.compat_v1",
           "mediaflow.api.app", "mediaflow.api.security", "mediaflow.api", "mediaflow.catalog", "mediaflow.errors")
THIRD_PARTY = ("aws_lambda_powertools.event_handler", "pydantic", "__future__", "typing", "functools", "datetime")
PORTS = {"workflows", "runs", "jobs", "blobs", "launcher", "keys", "idempotency", "webhooks", "queue"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_imports_are_use_cases_and_translation(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            ok = name in ALLOWED or name.startswith(tuple(f"{a}." for a in ALLOWED)) if name.startswith("mediaflow") \
                else name.startswith(THIRD_PARTY)
            assert ok, f"{path.name}:{getattr(node, 'lineno', 0)} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_no_port_is_reached_directly(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in PORTS and isinstance(node.value, ast.Attribute):
            assert node.value.attr != "ctx", f"{path.name}:{node.lineno} reaches ctx.{node.attr}"


def test_handlers_are_thin() -> None:
    tree = ast.parse(MODULES[0].read_text())
    handlers = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                and any(isinstance(d, ast.Call) for d in n.decorator_list)]
    assert len(handlers) == 39  # Strongly's 37 documented operations and the entity API's run and run status
    sizes = {h.name: (h.end_lineno or h.lineno) - h.lineno + 1 for h in handlers}
    long = {name: size for name, size in sizes.items() if size > 30}
    assert not long, long

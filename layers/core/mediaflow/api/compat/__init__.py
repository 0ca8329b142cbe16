"""Compatibility routers: other products' documented requests at their own paths, translated onto the same
use cases as /v1 (``api.workflows``, ``api.runs``, ``api.jobs``). They hold shapes only: no storage, no
runtime, no business rule (tests/unit/test_compat_routers.py keeps them so; docs/compat.md lists each call).

A documented field that mediaflow cannot honour is refused with 422 naming it, never dropped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.event_handler import Response

from mediaflow.api.problems import ApiProblem, DefinitionRejected
from mediaflow.validation import validate

READ, WRITE, EXECUTE = "workflows:read", "workflows:write", "workflows:execute"


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str),
                    headers=headers or {})


def refuse_unhonoured(raw: dict[str, Any], path_of: Callable[[str], str]) -> None:
    """422 for settings the engine would drop (``ignored``) and node kinds it does not have, each error
    naming the field in the product's own terms (``path_of`` maps a canonical path to it)."""
    report = validate(raw)
    issues = [w for w in report.warnings if w.code == "ignored"] + \
             [e for e in report.errors if e.code in ("unknown_kind", "unknown_setting")]
    if issues:
        raise ApiProblem(422, "the request has settings mediaflow cannot honour: " +
                         "; ".join(f"{path_of(i.path)}: {i.message}" for i in issues), code="UnsupportedField",
                         errors=[{"field": path_of(i.path), "path": path_of(i.path), "message": i.message,
                                  "code": i.code} for i in issues])


def field_problem(field: str, message: str, status: int = 422) -> ApiProblem:
    return ApiProblem(status, f"{field}: {message}", code="UnsupportedField" if status == 422 else None,
                      errors=[{"field": field, "path": field, "message": message}])


@contextmanager
def product_paths(path_of: Callable[[str], str]) -> Iterator[None]:
    """A workflow the use case rejects is reported with its fields in the product's own terms."""
    try:
        yield
    except DefinitionRejected as rejected:
        for entry in (*rejected.errors, *rejected.warnings):
            for key in ("field", "path"):
                if entry.get(key):
                    entry[key] = path_of(str(entry[key]))
        raise

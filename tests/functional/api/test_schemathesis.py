"""Property-based checks of the running local server against its own OpenAPI document:
no 5xx, and every response matches the documented schema (bounded to stay fast)."""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from tests.functional.api.conftest import Api  # noqa: E402

pytestmark = pytest.mark.functional


MAX_EXAMPLES = 6


def test_api_conforms_to_its_openapi(api: Api) -> None:
    """Every operation, a few generated cases each, with an owner's key; failures are collected."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{api.server.url}/v1/openapi.json")
    headers = {"Authorization": f"Bearer {api.keys['a']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as error:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:600]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)

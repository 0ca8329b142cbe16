"""Authentication, scopes, keys, rate limit, body cap, idempotency, meta endpoints, and the Lambda
entry point (functions/api/app.py) under its powertools decorators."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.functional.api.conftest import Api, Client, assert_problem, simple_workflow

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[3]


def test_health_openapi_and_docs_need_no_key(client: Client, api: Api) -> None:
    anon = client.with_key(None)
    assert anon.get("/v1/health").json() == {"status": "ok", "mode": api.mode}
    spec = anon.get("/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v1/workflows/{workflow_id}/runs" in spec["paths"]
    assert "multipart/form-data" in spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    page = anon.get("/v1/docs")
    assert page.status == 200 and page.content_type.startswith("text/html") and b"openapi.json" in page.content


def test_missing_or_bad_key_is_401_and_missing_scope_is_403(client: Client, api: Api) -> None:
    problem = assert_problem(client.with_key(None).get("/v1/workflows"), 401)
    assert problem["title"] == "Unauthorized"
    assert_problem(client.with_key("mf_nope_123").get("/v1/workflows"), 401)
    assert_problem(client.with_key(None).get("/v1/no-such-route"), 401)
    assert_problem(client.get("/v1/no-such-route"), 404)
    by_header = client.with_key(None).get("/v1/workflows", headers={"X-API-Key": api.keys["a"]})
    assert by_header.status == 200
    reader = client.with_key(api.keys["a-read"])
    assert reader.get("/v1/workflows").status == 200
    assert_problem(reader.post("/v1/workflows", simple_workflow()), 403)
    assert_problem(reader.post("/v1/workflows/any/runs", {"sample": True}), 403)
    runner = client.with_key(api.keys["a-exec"])
    assert_problem(runner.delete("/v1/workflows/any"), 403)


def test_keys_are_managed_per_tenant_and_revocation_works(client: Client, api: Api) -> None:
    created = client.post("/v1/keys", {"name": "ci", "scopes": ["workflows:read"]})
    assert created.status == 201 and created.json()["key"].startswith("mf_")
    new_key, key_id = created.json()["key"], created.json()["keyId"]
    listed = client.get("/v1/keys").json()
    assert key_id in {k["keyId"] for k in listed["keys"]} and all("key" not in k for k in listed["keys"])
    assert client.with_key(new_key).get("/v1/workflows").status == 200
    assert client.delete(f"/v1/keys/{key_id}").status == 204
    assert_problem(client.with_key(new_key).get("/v1/workflows"), 401)
    limited = client.with_key(api.keys["a-read"])
    assert_problem(limited.post("/v1/keys", {"scopes": ["workflows:write"]}), 403)
    assert_problem(client.post("/v1/keys", {"scopes": ["admin"]}), 422)
    assert_problem(client.delete("/v1/keys/nope"), 404)


def test_idempotency_key_replays_and_refuses_a_different_body(client: Client) -> None:
    headers = {"Idempotency-Key": f"create-{client.transport}-1"}
    first = client.post("/v1/workflows", simple_workflow("idem"), headers=headers)
    second = client.post("/v1/workflows", simple_workflow("idem"), headers=headers)
    assert first.status == second.status == 201
    assert first.json()["id"] == second.json()["id"] and second.headers["idempotent-replayed"] == "true"
    assert_problem(client.post("/v1/workflows", simple_workflow("other"), headers=headers), 422)
    third = client.post("/v1/workflows", simple_workflow("idem"))
    assert third.json()["id"] != first.json()["id"]


def test_rate_limit_and_body_cap(api: Api) -> None:
    from mediaflow.api import ApiConfig, create_app
    from mediaflow.embedded.bootstrap import embedded_context
    from mediaflow.embedded.http_server import local_api

    config = ApiConfig(rate_per_second=0.01, burst=1, max_body_bytes=2048)
    server = local_api(api.service, port=0, config=config).start()
    app = create_app(embedded_context(api.service, config))
    try:
        for transport, base, resolve in (("http", server.url, None), ("lambda", "http://x", app.resolve)):
            client = Client(transport, base, resolve, api.keys["a-read"] if transport == "http" else api.keys["a-exec"])
            assert client.get("/v1/workflows").status == 200
            big = client.post("/v1/workflows", {"name": "x" * 4096})
            assert_problem(big, 413)
            limited = assert_problem(client.get("/v1/workflows"), 429)
            assert limited["status"] == 429 and int(client.get("/v1/workflows").headers["retry-after"]) >= 1
    finally:
        server.stop()


def test_lambda_entry_point_resolves_with_the_powertools_decorators(api: Api, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "mediaflow")
    spec = importlib.util.spec_from_file_location("api_function", ROOT / "functions" / "api" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "app", lambda: api.app)

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "api", 256, "req-1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:api"

    event = {"httpMethod": "GET", "path": "/v1/workflows", "headers": {"Authorization": f"Bearer {api.keys['a']}"},
             "requestContext": {"requestId": "r1", "stage": "prod"}, "isBase64Encoded": False, "body": None}
    response = module.lambda_handler(event, Context())
    assert response["statusCode"] == 200


def test_lambda_app_fails_clearly_without_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaflow.cloud.bootstrap import aws_context

    try:
        context = aws_context()
    except Exception as error:  # missing tables or modules: a clear error, not a half-built API
        assert str(error)
    else:
        assert context.mode == "aws"

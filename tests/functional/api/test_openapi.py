"""The OpenAPI document as the local server serves it: typed success responses on every operation, no
dangling or unused schema, tags, request examples that the API accepts; and the offline docs page."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from mediaflow.api import models
from mediaflow.api.openapi import REF_PREFIX, operations, reachable_schemas, schema_refs
from mediaflow.api.routes import webhooks
from mediaflow.validation import validate

from tests.functional.api.conftest import Api, Client

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def spec(embedded_api: Api) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(f"{embedded_api.server.url}/v1/openapi.json", timeout=30).json()
    return document


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    from openapi_spec_validator import validate as validate_spec

    assert spec["openapi"] == "3.1.0"
    validate_spec(spec)  # raises with the first violation


def test_the_server_is_the_url_the_client_reached(client: Client) -> None:
    spec = client.with_key(None).get("/v1/openapi.json").json()
    assert spec["servers"][0]["url"] == client.base  # the local server, or the API Gateway stage URL


def test_every_operation_lists_its_success_response_with_a_schema(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in operations(spec):
        success = {code: response for code, response in operation["responses"].items() if code.startswith("2")}
        if len(success) != 1:
            missing.append(f"{method} {path}: {sorted(success)}")
            continue
        code, response = next(iter(success.items()))
        if code == "204":
            assert "content" not in response, f"{method} {path}"
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        if not schema.get("$ref", "").startswith(REF_PREFIX):
            missing.append(f"{method} {path}: {code} has no model schema")
    assert len(list(operations(spec))) >= 40
    assert not missing, missing


def test_no_dangling_and_no_unused_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    referenced = schema_refs(spec)
    assert referenced - set(schemas) == set(), "dangling $ref"
    assert set(schemas) - reachable_schemas(spec) == set(), "schemas no operation reaches"
    assert {"RunRequest", "Problem", "WorkflowPlan", "Workflow", "Run"} <= set(schemas)


def test_errors_are_problem_documents(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                assert ref == REF_PREFIX + "Problem", f"{method} {path} {code}"


def test_operations_have_tags_ids_and_declared_tags(spec: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in spec["tags"]}
    ids = []
    for path, method, operation in operations(spec):
        assert operation.get("tags") and set(operation["tags"]) <= declared, f"{method} {path}"
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", operation["operationId"]), operation["operationId"]
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
    assert all(tag.get("description") for tag in spec["tags"])


MODELS = {model.__name__: model for model in (models.WorkflowInput, models.RunRequest, models.KeyIn,
                                              models.EventIn, models.NodeIn, webhooks.WebhookIn)}


def test_main_request_bodies_carry_examples_the_models_accept(spec: dict[str, Any]) -> None:
    bodies = {(method, path): operation["requestBody"]["content"] for path, method, operation in operations(spec)
              if "requestBody" in operation}
    for method, path in [("post", "/v1/workflows"), ("post", "/v1/workflows/{workflow_id}/runs"),
                         ("post", "/v1/keys"), ("post", "/v1/webhooks"), ("post", "/v1/workflows/events"),
                         ("post", "/v1/workflows/{workflow_id}/nodes")]:
        media = bodies[(method, path)]["application/json"]
        name = media["schema"]["$ref"].removeprefix(REF_PREFIX)
        assert "example" in media, f"{method} {path}"
        MODELS[name].model_validate(media["example"])
        for example in spec["components"]["schemas"][name]["examples"]:
            MODELS[name].model_validate(example)
    assert validate(models.WORKFLOW_EXAMPLE).valid


def test_example_workflow_is_accepted_by_the_api(embedded_api: Api) -> None:
    key = embedded_api.keys["a"]
    created = requests.post(f"{embedded_api.server.url}/v1/workflows", json=models.WORKFLOW_EXAMPLE,
                            headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert created.status_code == 201 and created.json()["valid"] is True, created.text


def test_docs_page_is_swagger_ui_served_offline(embedded_api: Api) -> None:
    base = embedded_api.server.url
    page = requests.get(f"{base}/v1/docs", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(sources) == ["docs/swagger-ui.css", "docs/swagger-ui.js"]  # relative: no CDN, no network
    assert 'url: "openapi.json"' in page.text
    script = requests.get(f"{base}/v1/docs/swagger-ui.js", timeout=30)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text and len(script.content) > 500_000
    style = requests.get(f"{base}/v1/docs/swagger-ui.css", timeout=30)
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert ".swagger-ui" in style.text
    unknown = requests.get(f"{base}/v1/docs/../../etc/passwd", timeout=30)
    assert unknown.status_code in (401, 404)
    assert requests.get(f"{base}/v1/docs/other.js", timeout=30).status_code == 404

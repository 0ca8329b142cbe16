"""The OpenAPI document as served at /v1/openapi.json, and the offline Swagger UI page at /v1/docs.

powertools generates the paths and schemas from the routes' annotations; this module adds what the routes
read themselves (multipart bodies, the JSON run request), copies each request model's first example onto
its request body, drops empty response contents and every schema no operation reaches, so that a client
generator gets exactly one typed model per shape.

The Swagger UI script and stylesheet are the copies packaged inside ``aws_lambda_powertools`` (already a
dependency of every function): the page needs no network beyond the API itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.openapi.models import Tag
from pydantic import BaseModel

from mediaflow.api.models import RunRequest

if TYPE_CHECKING:
    from mediaflow.api.app import MediaflowResolver

TITLE, VERSION = "mediaflow API", "1.0.0"
REF_PREFIX = "#/components/schemas/"
TAGS: list[Tag | str] = [
    Tag(name="workflows", description="Workflow definitions: CRUD, versions, validation, plan, nodes, events"),
    Tag(name="runs", description="Start runs (uploads, stored objects, samples), follow and cancel them"),
    Tag(name="jobs", description="One-off conversions of uploaded files, without a saved workflow"),
    Tag(name="webhooks", description="Signed event deliveries: subscriptions, delivery log, replay"),
    Tag(name="uploads", description="Large files in parts (resumable) and upload tokens for browsers"),
    Tag(name="keys", description="API keys of the tenant (scopes; the secret is shown once)"),
    Tag(name="meta", description="Health"),
]
MULTIPART_ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/workflows/{workflow_id}/runs", "post"): {"file": {"type": "string", "format": "binary"}},
    ("/v1/jobs", "post"): {"jobType": {"type": "string", "enum": ["convert", "compress", "resize"]},
                           "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                           "formats": {"type": "string"}, "compressions": {"type": "string"},
                           "resizes": {"type": "string"}, "createArchive": {"type": "string"},
                           "saveToStorage": {"type": "string"}},
    ("/v1/uploads/{token}", "post"): {"file": {"type": "string", "format": "binary"}},
}
JSON_BODIES: dict[tuple[str, str], type[BaseModel]] = {("/v1/workflows/{workflow_id}/runs", "post"): RunRequest}
ASSETS = {"swagger-ui.js": ("swagger-ui-bundle.min.js", "application/javascript; charset=utf-8"),
          "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8")}
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mediaflow API</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui">Loading the API description...</div>
<script src="docs/swagger-ui.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout", persistAuthorization: true,
  tryItOutEnabled: false});
</script></body></html>
"""


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            yield path, method, operation


def schema_refs(value: Any) -> set[str]:
    """Names of the component schemas ``value`` refers to (directly)."""
    text = json.dumps(value)
    return set(re.findall(r'"\$ref": "' + re.escape(REF_PREFIX) + r'([^"]+)"', text))


def reachable_schemas(spec: dict[str, Any]) -> set[str]:
    """Component schemas reached from the paths, following references between schemas."""
    schemas = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    todo = schema_refs(spec.get("paths", {}))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= schema_refs(schemas.get(name, {})) - seen
    return seen


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF_PREFIX + "{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF_PREFIX + model.__name__}


def _request_bodies(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for path, method, operation in operations(spec):
        properties = MULTIPART_ROUTES.get((path, method))
        model = JSON_BODIES.get((path, method))
        if properties is not None:
            content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
            if model is not None:
                content["application/json"] = {"schema": _add_model(schemas, model)}
            operation["requestBody"] = {"required": False, "content": content}
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            found = schemas.get(ref.removeprefix(REF_PREFIX), {}).get("examples") if ref else None
            if found:
                media["example"] = found[0]


def openapi_document(app: MediaflowResolver, server: str | None = None) -> dict[str, Any]:
    """The served document: every operation with its typed success response, no unused schema; ``server``
    (the URL the client reached, API Gateway stage included) is the document's server."""
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
    if server:
        spec["servers"] = [{"url": server, "description": "this deployment"}]
    spec.setdefault("components", {}).setdefault("schemas", {})
    _request_bodies(spec)
    for _, _, operation in operations(spec):
        for response in operation.get("responses", {}).values():
            if response.get("content") == {}:
                del response["content"]  # 204
    keep = reachable_schemas(spec)
    spec["components"]["schemas"] = {name: schema for name, schema in spec["components"]["schemas"].items()
                                     if name in keep}
    return spec


@cache
def docs_asset(name: str) -> tuple[str, str] | None:
    """(content type, text) of a Swagger UI file packaged with powertools; None for an unknown name."""
    if name not in ASSETS:
        return None
    import aws_lambda_powertools.event_handler.openapi as powertools_openapi

    filename, content_type = ASSETS[name]
    folder = Path(powertools_openapi.__file__).parent / "swagger_ui"
    return content_type, (folder / filename).read_text(encoding="utf-8")

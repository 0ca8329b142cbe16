"""Health, OpenAPI, the docs page, API keys, uploads and downloads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from mediaflow.api.http import base_url, form_parts
from mediaflow.api.models import ApiKeyCreated, Health, KeyIn, KeyList, StoredObject, UploadIn, UploadTarget
from mediaflow.api.problems import ApiProblem
from mediaflow.api.routes import no_content, reply
from mediaflow.api.runs import RunService

if TYPE_CHECKING:
    from mediaflow.api.app import MediaflowResolver

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mediaflow API</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}code{background:#f4f4f4;padding:0 .3em}
.op{margin:.4em 0}.m{display:inline-block;width:5em;font-weight:bold}</style></head>
<body><h1>mediaflow API</h1><p>The OpenAPI document: <a href="openapi.json">openapi.json</a>
(load it in any Swagger UI or client generator).</p><div id="ops">Loading...</div>
<script>
fetch("openapi.json").then(r => r.json()).then(spec => {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      out.push(`<div class="op"><span class="m">${method.toUpperCase()}</span>` +
               `<code>${path}</code> ${op.summary || ""}</div>`);
    }
  }
  document.getElementById("ops").innerHTML = out.join("");
});
</script></body></html>
"""
MULTIPART_ROUTES = {
    ("/v1/workflows/{workflow_id}/runs", "post"): {"file": {"type": "string", "format": "binary"}},
    ("/v1/jobs", "post"): {"jobType": {"type": "string", "enum": ["convert", "compress", "resize"]},
                           "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                           "formats": {"type": "string"}, "compressions": {"type": "string"},
                           "resizes": {"type": "string"}, "createArchive": {"type": "string"},
                           "saveToStorage": {"type": "string"}},
    ("/v1/uploads/{token}", "post"): {"file": {"type": "string", "format": "binary"}},
}


def openapi_document(app: MediaflowResolver) -> dict[str, Any]:
    """The generated OpenAPI document plus the multipart request bodies the routes read themselves."""
    spec: dict[str, Any] = json.loads(app.get_openapi_json_schema(title="mediaflow API", version="1.0.0"))
    for (path, method), properties in MULTIPART_ROUTES.items():
        operation = spec.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
        if path.endswith("/runs"):
            content["application/json"] = {"schema": {"$ref": "#/components/schemas/RunRequest"}}
        operation["requestBody"] = {"required": False, "content": content}
    return spec


def register(app: MediaflowResolver) -> None:
    runs = RunService(app.ctx)

    @app.secured("GET", "/v1/health", None, summary="Liveness", tags=["meta"])
    def health() -> Response[Health]:
        return reply(Health, {"status": "ok", "mode": app.ctx.mode})

    @app.secured("GET", "/v1/openapi.json", None, summary="This OpenAPI document", tags=["meta"],
                 include_in_schema=False, enable_validation=False)
    def openapi() -> Response[Any]:
        return Response(200, "application/json", json.dumps(openapi_document(app)))

    @app.secured("GET", "/v1/docs", None, summary="API documentation page", tags=["meta"], include_in_schema=False,
                 enable_validation=False)
    def docs() -> Response[Any]:
        return Response(200, "text/html; charset=utf-8", DOCS_HTML)

    @app.secured("GET", "/v1/keys", "workflows:write", summary="List the tenant's API keys", tags=["keys"])
    def list_keys() -> Response[KeyList]:
        keys = app.ctx.keys.list_keys(app.principal().tenant)
        return reply(KeyList, {"count": len(keys), "keys": keys})

    @app.secured("POST", "/v1/keys", "workflows:write", summary="Create an API key (shown once)", tags=["keys"],
                 status_code=201)
    def create_key(body: KeyIn) -> Response[ApiKeyCreated]:
        principal = app.principal()
        beyond = sorted(set(body.scopes) - principal.scopes)
        if beyond:
            raise ApiProblem(403, f"a key cannot grant scopes its creator lacks: {', '.join(beyond)}",
                             code="MissingScope", errors=[{"field": "scopes", "path": "body.scopes",
                                                           "message": f"not held: {', '.join(beyond)}"}])
        secret, record = app.ctx.keys.create_key(principal.tenant, body.scopes, name=body.name)
        return reply(ApiKeyCreated, {**record, "key": secret}, 201)

    @app.secured("DELETE", "/v1/keys/<key_id>", "workflows:write", summary="Revoke an API key", tags=["keys"],
                 status_code=204)
    def revoke_key(key_id: str) -> Response[None]:
        app.ctx.keys.revoke(app.principal().tenant, key_id)
        return no_content()

    @app.secured("POST", "/v1/uploads", "workflows:execute", summary="A presigned-style upload target",
                 tags=["runs"], status_code=201)
    def create_upload(body: UploadIn) -> Response[UploadTarget]:
        target = runs.upload_target(app.principal().tenant, body.filename, body.content_type,
                                    base_url(app.current_event.raw_event), metadata=body.metadata,
                                    prefix=body.prefix)
        return reply(UploadTarget, target, 201)

    @app.secured("POST", "/v1/uploads/<token>", None, summary="Receive a file for an upload target (signed)",
                 tags=["runs"], status_code=201)
    def receive_upload(token: str) -> Response[StoredObject]:
        return reply(StoredObject, runs.receive_upload(token, form_parts(app.current_event.raw_event)), 201)

    @app.secured("GET", "/v1/downloads/<token>", None, summary="Download an output (signed URL)", tags=["runs"],
                 include_in_schema=False, enable_validation=False)
    def download(token: str) -> Response[Any]:
        data, content_type, filename = runs.download(token)
        return Response(200, content_type, data,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

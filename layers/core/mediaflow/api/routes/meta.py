"""Health, OpenAPI, the docs page, API keys, uploads and downloads."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from mediaflow.api.http import base_url, content_disposition, form_parts, lower_headers
from mediaflow.api.models import (
    ApiKeyCreated,
    Health,
    KeyIn,
    KeyList,
    NodeCatalog,
    SessionInfo,
    StoredObject,
    UploadIn,
    UploadTarget,
)
from mediaflow.api.openapi import DOCS_HTML, docs_asset, openapi_document
from mediaflow.api.problems import ApiProblem
from mediaflow.api.routes import SecuredRouter, no_content, reply
from mediaflow.api.runs import RunService
from mediaflow.api.security import UPLOAD_SCOPE, authenticate
from mediaflow.api.uploads import scoped_metadata
from mediaflow.catalog import catalog_by_category

router = SecuredRouter()


def runs() -> RunService:
    return RunService(router.ctx)


@router.secured("GET", "/v1/health", None, summary="Liveness", tags=["meta"])
def health() -> Response[Health]:
    return reply(Health, {"status": "ok", "mode": router.ctx.mode})


@router.secured("GET", "/v1/openapi.json", None, summary="This OpenAPI document", tags=["meta"],
                include_in_schema=False, enable_validation=False)
def openapi() -> Response[Any]:
    document = openapi_document(router.app, server=base_url(router.raw_event))
    return Response(200, "application/json", json.dumps(document))


@router.secured("GET", "/v1/docs", None, summary="API documentation page", tags=["meta"], include_in_schema=False,
                enable_validation=False)
def docs() -> Response[Any]:
    return Response(200, "text/html; charset=utf-8", DOCS_HTML)


@router.secured("GET", "/v1/docs/<asset>", None, summary="Swagger UI script and stylesheet (packaged)",
                tags=["meta"], include_in_schema=False, enable_validation=False)
def docs_file(asset: str) -> Response[Any]:
    found = docs_asset(asset)
    if found is None:
        raise ApiProblem(404, f"no documentation asset named {asset!r}", code="NotFound")
    content_type, text = found
    return Response(200, content_type, text, headers={"Cache-Control": "public, max-age=86400"})


@router.secured("GET", "/v1/session", None, summary="Who is calling (`signedIn: false` rather than 401)",
                tags=["keys"])
def session() -> Response[SessionInfo]:
    event = router.raw_event
    try:
        principal = authenticate(lower_headers(event), router.ctx.keys,
                                 (event.get("requestContext") or {}).get("authorizer"))
    except ApiProblem:
        return reply(SessionInfo, {"signedIn": False, "mode": router.ctx.mode})
    return reply(SessionInfo, {"signedIn": True, "tenant": principal.tenant, "keyId": principal.key_id,
                               "scopes": sorted(principal.scopes), "via": principal.via, "mode": router.ctx.mode})


@router.secured("GET", "/v1/nodes", "workflows:read", summary="The node catalog by category, with each config's "
                "JSON Schema", tags=["workflows"])
def node_catalog() -> Response[NodeCatalog]:
    return reply(NodeCatalog, catalog_by_category())


@router.secured("GET", "/v1/keys", "workflows:write", summary="List the tenant's API keys", tags=["keys"])
def list_keys() -> Response[KeyList]:
    keys = router.ctx.keys.list_keys(router.tenant())
    return reply(KeyList, {"count": len(keys), "keys": keys})


@router.secured("POST", "/v1/keys", "workflows:write", summary="Create an API key (shown once)", tags=["keys"],
                status_code=201)
def create_key(body: KeyIn) -> Response[ApiKeyCreated]:
    principal = router.principal()
    beyond = sorted(set(body.scopes) - principal.scopes)
    if beyond:
        raise ApiProblem(403, f"a key cannot grant scopes its creator lacks: {', '.join(beyond)}",
                         code="MissingScope", errors=[{"field": "scopes", "path": "body.scopes",
                                                       "message": f"not held: {', '.join(beyond)}"}])
    secret, record = router.ctx.keys.create_key(principal.tenant, body.scopes, name=body.name)
    return reply(ApiKeyCreated, {**record, "key": secret}, 201)


@router.secured("DELETE", "/v1/keys/<key_id>", "workflows:write", summary="Revoke an API key", tags=["keys"],
                status_code=204)
def revoke_key(key_id: str) -> Response[None]:
    router.ctx.keys.revoke(router.tenant(), key_id)
    return no_content()


@router.secured("POST", "/v1/uploads", UPLOAD_SCOPE, summary="A presigned-style upload target",
                tags=["runs"], status_code=201)
def create_upload(body: UploadIn) -> Response[UploadTarget]:
    principal = router.principal()
    metadata, max_bytes = scoped_metadata(principal, body, router.ctx.config.max_upload_bytes)
    target = runs().upload_target(principal.tenant, body.filename, body.content_type, base_url(router.raw_event),
                                  metadata=metadata, prefix=body.prefix, max_bytes=max_bytes)
    return reply(UploadTarget, target, 201)


@router.secured("POST", "/v1/uploads/<token>", None, summary="Receive a file for an upload target (signed)",
                tags=["runs"], status_code=201)
def receive_upload(token: str) -> Response[StoredObject]:
    return reply(StoredObject, runs().receive_upload(token, form_parts(router.raw_event)), 201)


@router.secured("GET", "/v1/downloads/<token>", None, summary="Download an output (signed URL)", tags=["runs"],
                include_in_schema=False, enable_validation=False)
def download(token: str) -> Response[Any]:
    data, content_type, filename = runs().download(token)
    # inline by default: the dashboard shows images and previews PDFs from these URLs
    disposition = "attachment" if router.app.current_event.get_query_string_value("download") else "inline"
    return Response(200, content_type, data,
                    headers={"Content-Disposition": content_disposition(disposition, filename),
                             "X-Content-Type-Options": "nosniff"})

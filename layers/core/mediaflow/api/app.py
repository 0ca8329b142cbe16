"""The resolver: one powertools APIGatewayRestResolver (validation + OpenAPI) for API Gateway and the local
server. A gate in front of routing checks the body size (413), the API key (401), the route's scope (403)
and the key's rate (429); a middleware makes every POST idempotent under an ``Idempotency-Key``."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from mediaflow.api import openapi, problems
from mediaflow.api.config import API_PREFIX
from mediaflow.api.context import ApiContext
from mediaflow.api.guards import check_body, check_method
from mediaflow.api.http import body_fingerprint, lower_headers, raw_body
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import Principal, authenticate

if TYPE_CHECKING:
    from mediaflow.api.routes import SecuredRouter

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]


def _rule_regex(rule: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<[^>]+>", "[^/]+", rule) + "/?$")


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS headers on every answer to a browser origin (preflights are answered by API Gateway on AWS)."""
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]) or None,
                      allow_headers=["Authorization", "Content-Type", "X-API-Key", "Idempotency-Key"],
                      expose_headers=["Location", "Retry-After"], max_age=600)


class MediaflowResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver plus a gate (auth, scopes, rate, size) that runs before routing.

    powertools keeps the request (event, Lambda context, route context) on the class ``BaseRouter`` and on
    the instance; here each thread sees its own, so the local server resolves requests concurrently."""

    def __init__(self, ctx: ApiContext) -> None:
        self._request = threading.local()
        super().__init__(enable_validation=True, cors=_cors(ctx.config.cors_allow_origins))
        self.ctx = ctx
        self._scopes: list[tuple[str, re.Pattern[str], str | None, bool]] = []
        self._routers: list[SecuredRouter] = []

    @property
    def current_event(self) -> Any:
        return self._request.event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._request.event = value

    @property
    def lambda_context(self) -> Any:
        return getattr(self._request, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._request.lambda_context = value

    @property
    def context(self) -> dict[str, Any]:
        context: dict[str, Any] | None = getattr(self._request, "context", None)
        if context is None:
            context = self._request.context = {}
        return context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._request.context = value

    def _to_proxy_event(self, event: dict[str, Any]) -> Any:
        proxy = super()._to_proxy_event(event)
        self.current_event = proxy  # powertools also sets it on BaseRouter, which this class never reads
        return proxy

    def prepare_routes(self) -> None:
        """Build every route's middleware stack now (powertools builds it on first use, not thread-safely)."""
        for route in [*self._static_routes, *self._dynamic_routes]:
            if not route._middleware_stack_built:
                route._build_middleware_stack(router_middlewares=self._router_middlewares, app=self)

    def secured(self, method: str, rule: str, scope: str | None, **kwargs: Any) -> Callable[..., Any]:
        """Register a route with its scope (None: public). Static rules are matched before dynamic ones."""
        self._scopes.append((method.upper(), _rule_regex(rule), scope, "<" not in rule))
        if scope is not None:
            kwargs.setdefault("security", SECURITY)
        kwargs.setdefault("responses", problems.route_responses(kwargs.get("status_code", 200)))

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            operation_id = kwargs.pop("operation_id", None) or to_camel(handler.__name__)
            return self.route(rule, method.upper(), operation_id=operation_id, **kwargs)(handler)

        return register

    def include_secured(self, router: SecuredRouter) -> None:
        """Add a module-level router's routes with their scopes."""
        for method, rule, scope in router.scopes:
            self._scopes.append((method, _rule_regex(rule), scope, "<" not in rule))
        self.include_router(router)
        self._routers.append(router)

    def scope_of(self, method: str, path: str) -> tuple[bool, str | None]:
        """(known route, scope); unknown routes still need a key so that probing reveals nothing."""
        for static in (True, False):
            for rule_method, pattern, scope, is_static in self._scopes:
                if is_static == static and rule_method == method and pattern.match(path):
                    return True, scope
        return False, "authenticated"

    def principal(self) -> Principal:
        principal = self.context.get("principal")
        if not isinstance(principal, Principal):
            raise ApiProblem(401, "authentication required", code="Unauthenticated")
        return principal

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.lambda_context = context
        try:
            principal = self._gate(event)
        except ApiProblem as problem:
            return _gateway_response(problems.from_exception(problem))
        if principal is not None:
            self.append_context(principal=principal)
        for router in self._routers:
            router.bind(self)
        return super().resolve(event, context)

    def _gate(self, event: Mapping[str, Any]) -> Principal | None:
        method = str(event.get("httpMethod") or "GET").upper()
        path = str(event.get("path") or "/")
        check_method(method)
        if len(raw_body(event)) > self.ctx.config.max_body_bytes:
            raise ApiProblem(413, f"the body is larger than {self.ctx.config.max_body_bytes} bytes",
                             code="PayloadTooLarge")
        check_body(event)
        _, scope = self.scope_of(method, path)
        if scope is None:
            return None
        authorizer = (event.get("requestContext") or {}).get("authorizer")
        principal = authenticate(lower_headers(event), self.ctx.keys, authorizer)
        if scope != "authenticated":
            principal.require(scope)
        if self.ctx.config.rate_limited:
            self.ctx.limiter.check(principal.key_id)
        return principal


def _gateway_response(response: Response[Any]) -> dict[str, Any]:
    return {"statusCode": response.status_code, "body": response.body,
            "isBase64Encoded": False,
            "multiValueHeaders": {"Content-Type": [problems.PROBLEM_JSON],
                                  **{k: [str(v)] for k, v in response.headers.items() if k != "Content-Type"}}}


def idempotency(app: MediaflowResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """POST with ``Idempotency-Key``: the first response is stored and replayed for the same request;
    the same key with a different body is refused (422); a concurrent duplicate gets 409."""
    event = app.current_event
    key = event.headers.get("idempotency-key") or event.headers.get("Idempotency-Key")
    principal = app.context.get("principal")
    if event.http_method.upper() != "POST" or not key or not isinstance(principal, Principal):
        return next_middleware(app)
    if len(key) > 255:
        raise ApiProblem(400, "Idempotency-Key is longer than 255 characters", code="BadIdempotencyKey")
    fingerprint = hashlib.sha256(event.path.encode() + b"\0" + body_fingerprint(event.raw_event)).hexdigest()
    store_key = "api:" + hashlib.sha256(f"{principal.tenant}\0{key}".encode()).hexdigest()
    ttl = app.ctx.config.idempotency_ttl_seconds
    stored = app.ctx.idempotency.claim(store_key, ttl_seconds=ttl)
    if stored is not None:
        if stored.get("fingerprint") != fingerprint:
            raise ApiProblem(422, "this Idempotency-Key was used with a different request",
                             code="IdempotencyKeyReused",
                             errors=[{"field": "Idempotency-Key", "path": "headers.Idempotency-Key",
                                      "message": "reused with a different request"}])
        return Response(status_code=int(stored["status"]), content_type=stored["contentType"],
                        body=stored["body"], headers={**stored["headers"], "Idempotent-Replayed": "true"})
    try:
        response = next_middleware(app)
    except BaseException:
        app.ctx.idempotency.release(store_key)
        raise
    body_out = response.body
    if isinstance(body_out, BaseModel):
        body_out = body_out.model_dump(mode="json", by_alias=True)
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("location", "etag")}
    app.ctx.idempotency.complete(store_key, {"fingerprint": fingerprint, "status": response.status_code,
                                             "contentType": response.headers.get("Content-Type",
                                                                                 "application/json"),
                                             "body": body_out, "headers": headers})
    return response


def create_app(ctx: ApiContext) -> MediaflowResolver:
    """The whole API over ``ctx`` (its ports decide embedded or AWS)."""
    from mediaflow.api.compat import convertly, mindia
    from mediaflow.api.routes import api_v1, jobs, meta, runs, webhooks, workflows

    app = MediaflowResolver(ctx)
    problems.register(app)
    app.use(middlewares=[idempotency])
    for module in (meta, workflows, runs, jobs, webhooks, api_v1):
        module.register(app)
    for router in (convertly.router, mindia.router):
        app.include_secured(router)
    app.configure_openapi(
        title=openapi.TITLE, version=openapi.VERSION, tags=openapi.TAGS,
        summary="Media workflows: definitions, versions, runs, jobs and API keys",
        security_schemes={"bearerAuth": HTTPBearer(),
                          "apiKeyHeader": APIKey(name="X-API-Key", **{"in": APIKeyIn.header})},
    )
    app.prepare_routes()
    return app


__all__ = ["API_PREFIX", "MediaflowResolver", "create_app"]

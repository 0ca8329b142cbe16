"""Route modules: each is a module-level :class:`SecuredRouter` (powertools' split-router pattern) that
``api.app.create_app`` includes; handlers parse, call the use case and reply. The helpers every route
uses (the caller's tenant, ``If-Match``, the base URL, ``reply``) live here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from mediaflow.api.app import MediaflowResolver
    from mediaflow.api.context import ApiContext
    from mediaflow.api.security import Principal


def reply(model: type[BaseModel], data: Any, status: int = 200, headers: dict[str, str] | None = None
          ) -> Response[Any]:
    """A JSON response whose body is checked against (and serialised by) ``model``."""
    return Response(status_code=status, content_type="application/json", body=model.model_validate(data),
                    headers=headers or {})


def no_content() -> Response[Any]:
    """204 with an empty body (a None body would be serialised as ``null`` on API Gateway)."""
    return Response(status_code=204, content_type="application/json", body="")


class SecuredRouter(Router):
    """A module-level powertools ``Router`` whose routes carry their scope (None: public), the way
    ``MediaflowResolver.secured`` does; ``MediaflowResolver.include_secured`` adds both to a resolver.

    Several resolvers may include the same router in one process (tests build more than one): the
    resolver that is resolving binds itself to its routers first, under its one-request-at-a-time lock."""

    def __init__(self, name: str = "", *, in_schema: bool = True) -> None:
        super().__init__()
        self.name = name
        self.scopes: list[tuple[str, str, str | None]] = []
        self.in_schema = in_schema
        self._bound = threading.local()

    def bind(self, resolver: MediaflowResolver) -> None:
        """The resolver now resolving on this thread (resolvers answer requests on several threads)."""
        self._bound.app = resolver

    def secured(self, method: str, rule: str, scope: str | None, **kwargs: Any) -> Callable[..., Any]:
        from mediaflow.api import problems
        from mediaflow.api.app import SECURITY

        self.scopes.append((method.upper(), rule, scope))
        if scope is not None:
            kwargs.setdefault("security", SECURITY)
        kwargs.setdefault("responses", problems.route_responses(kwargs.get("status_code", 200)))
        kwargs.setdefault("include_in_schema", self.in_schema)

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            prefixed = f"{self.name}_{handler.__name__}" if self.name else handler.__name__
            operation_id = kwargs.pop("operation_id", None) or to_camel(prefixed)
            return self.route(rule, method.upper(), operation_id=operation_id, **kwargs)(handler)

        return register

    @property
    def app(self) -> MediaflowResolver:
        from mediaflow.api.app import MediaflowResolver

        resolver = getattr(self._bound, "app", None) or self.api_resolver
        if not isinstance(resolver, MediaflowResolver):
            raise RuntimeError("this router is not included in a MediaflowResolver")
        return resolver

    @property
    def ctx(self) -> ApiContext:
        return self.app.ctx

    def principal(self) -> Principal:
        return self.app.principal()

    def tenant(self) -> str:
        return self.app.principal().tenant

    @property
    def raw_event(self) -> dict[str, Any]:
        event: dict[str, Any] = self.app.current_event.raw_event
        return event

    @property
    def headers(self) -> Any:
        return self.app.current_event.headers

    def base_url(self) -> str:
        """The URL the client reached (API Gateway stage included)."""
        from mediaflow.api.http import base_url

        return base_url(self.raw_event)

    def if_match(self) -> int | None:
        """The version in the request's ``If-Match`` header (None when absent)."""
        from mediaflow.api.workflows import parse_if_match

        return parse_if_match(self.headers.get("if-match") or self.headers.get("If-Match"))

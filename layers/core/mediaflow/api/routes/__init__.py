"""Route modules: each exposes ``register(app)``; handlers parse, call the use case and reply."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel


def reply(model: type[BaseModel], data: Any, status: int = 200, headers: dict[str, str] | None = None
          ) -> Response[Any]:
    """A JSON response whose body is checked against (and serialised by) ``model``."""
    return Response(status_code=status, content_type="application/json", body=model.model_validate(data),
                    headers=headers or {})


def no_content() -> Response[Any]:
    """204 with an empty body (a None body would be serialised as ``null`` on API Gateway)."""
    return Response(status_code=204, content_type="application/json", body="")

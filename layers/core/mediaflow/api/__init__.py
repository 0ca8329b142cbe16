"""The HTTPS API (powertools APIGatewayRestResolver) served by API Gateway and by `mediaflow serve`."""

from mediaflow.api.config import ApiConfig
from mediaflow.api.context import ApiContext, embedded_context

__all__ = ["ApiConfig", "ApiContext", "create_app", "embedded_context"]


def create_app(ctx: ApiContext):  # type: ignore[no-untyped-def]
    from mediaflow.api.app import create_app as build

    return build(ctx)

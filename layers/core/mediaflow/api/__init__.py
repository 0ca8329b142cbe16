"""The HTTPS API (powertools APIGatewayRestResolver) served by API Gateway and by `mediaflow serve`."""

from mediaflow.api.config import ApiConfig
from mediaflow.api.context import ApiContext

__all__ = ["ApiConfig", "ApiContext", "create_app"]


def create_app(ctx: ApiContext):  # type: ignore[no-untyped-def]
    from mediaflow.api.app import create_app as build

    return build(ctx)

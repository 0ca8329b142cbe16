"""``mediaflow.client``: the typed Python client of the mediaflow API.

    from mediaflow.client import MediaflowClient

    with MediaflowClient("http://127.0.0.1:8080", api_key) as api:
        workflow = api.workflows.create("examples/convertly-convert-compress.json")
        accepted = api.runs.start(workflow.id, ["photo.jpg"])
        run = api.runs.wait(accepted.run_id)
        api.runs.download_outputs(run, "out/")
"""

from mediaflow.client.core import MediaflowClient, parse
from mediaflow.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    Unprocessable,
    WaitTimeout,
)

__all__ = ["ApiError", "BadRequest", "ClientError", "Conflict", "Forbidden", "MediaflowClient", "NotFound",
           "RateLimited", "ServerError", "TransportError", "Unauthorized", "Unprocessable", "WaitTimeout", "parse"]

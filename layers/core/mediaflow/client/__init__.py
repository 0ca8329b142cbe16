"""``mediaflow.client``: the typed Python client of the mediaflow API.

    from mediaflow.client import MediaflowClient

    with MediaflowClient("http://127.0.0.1:8080", api_key) as api:
        workflow = api.workflows.create("examples/convertly-convert-compress.json")
        accepted = api.runs.start(workflow.id, ["photo.jpg"])
        run = api.runs.wait(accepted.run_id)
        api.runs.download_outputs(run, "out/")

The names load on first use, so importing ``mediaflow.client.profiles`` (every CLI command looks for a
remote target) costs no httpx and no API models when the command runs locally.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
_HOME = {name: "mediaflow.client.core" if name in ("MediaflowClient", "parse") else "mediaflow.client.errors"
         for name in __all__}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'mediaflow.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value

"""A Lambda execution environment in one process: runs inside a deployable's own virtual environment.

    python lambda_runtime.py CODE_DIR MODULE ATTRIBUTE FUNCTION_NAME

Like the Lambda runtime, it puts CODE_DIR first on sys.path, imports MODULE once (an import error is
reported for every invocation, as Runtime.ImportModuleError is), then answers invocations: one JSON event
per line on stdin, one JSON line per result on the original stdout, ``{"result": ...}`` or
``{"errorType": ..., "errorMessage": ...}``. Whatever the handler prints goes to stderr. Standard library
only: nothing here may add a package the deployable does not declare.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    def __init__(self, function_name: str, timeout_s: float = 900.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "packaging"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {"errorType": type(error).__name__, "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error)}


def main() -> int:
    code_dir, module_name, attribute, function_name = sys.argv[1:5]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and logs go to stderr
    sys.stdout = sys.stderr
    sys.path.insert(0, code_dir)
    handler: Any = None
    import_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:
        import_error = _error(error)
    for line in sys.stdin:
        event = json.loads(line)
        if import_error is not None:
            reply = import_error
        else:
            try:
                reply = {"result": handler(event, Context(function_name))}
            except Exception as error:
                reply = _error(error)
        protocol.write(json.dumps(reply, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

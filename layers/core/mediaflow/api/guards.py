"""Request checks that run before routing, on every transport (the local server and API Gateway alike):
methods the API does not speak (405) and bodies no route should see (400): invalid UTF-8 in a text body,
malformed JSON, JSON nested deeper than ``MAX_JSON_DEPTH``, integers longer than ``MAX_INTEGER_DIGITS``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mediaflow.api.http import lower_headers, raw_body
from mediaflow.api.problems import ApiProblem

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_JSON_DEPTH = 64
MAX_INTEGER_DIGITS = 64


def check_method(method: str) -> None:
    if method.upper() not in ALLOWED_METHODS:
        raise ApiProblem(405, f"the method {method[:32]} is not allowed", code="MethodNotAllowed",
                         headers={"Allow": ", ".join(ALLOWED_METHODS)})


def _bad_body(message: str, code: str) -> ApiProblem:
    return ApiProblem(400, message, code=code, errors=[{"field": "body", "path": "body", "message": message}])


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _bad_body(f"an integer in the body has {digits} digits (at most {MAX_INTEGER_DIGITS})",
                        "NumberTooLarge")
    return int(text)


def _no_constant(name: str) -> Any:
    raise _bad_body(f"the body is not valid JSON: {name} is not a JSON value", "MalformedJson")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (the parser already bounds it by the recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def check_body(event: Mapping[str, Any]) -> None:
    """Refuse a text body that is not UTF-8 and a JSON body that is malformed, too deep or holds huge numbers."""
    content_type = lower_headers(event).get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    textual = is_json(content_type) or media_type.startswith("text/") or \
        media_type == "application/x-www-form-urlencoded"
    if not textual:
        return
    data = raw_body(event)
    if not data:
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_body(f"the body is not valid UTF-8 (byte {error.start})", "InvalidUtf8") from None
    if not is_json(content_type) or not text.strip():
        return
    try:
        parsed = json.loads(text, parse_int=_parse_int, parse_constant=_no_constant)
    except RecursionError:
        raise _bad_body(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels", "JsonTooDeep") from None
    except ValueError as error:
        raise _bad_body(f"the body is not valid JSON: {error}"[:300], "MalformedJson") from None
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise _bad_body(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels", "JsonTooDeep")

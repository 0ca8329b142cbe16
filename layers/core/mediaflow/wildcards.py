"""ASL ``StringMatches``, shared by the compiler's conditions and the state machine interpreter (a neutral module:
the interpreter runs without the condition models)."""

from __future__ import annotations

import re


def wildcard_match(pattern: str, text: str) -> bool:
    """ASL StringMatches: ``*`` is any text; a backslash makes the next character literal (``\\*``)."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.fullmatch("".join(parts), text, flags=re.DOTALL) is not None

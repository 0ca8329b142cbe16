"""Conditions -> ASL Choice rules, guarded so that a missing or null field never errors at run time."""

from __future__ import annotations

import contextlib
from typing import Any

from mediaflow.conditions import NUMERIC_FIELDS, Condition, ConditionGroup


def variable(field: str) -> str:
    """The state path of a condition field: the run's event for ``event.*``, else the media."""
    return f"$.{field}" if field.startswith("event.") else f"$.media.{field}"


def _escape_glob(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


def _typed_equals(var: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"Variable": var, "NumericEquals": value}
    return {"Variable": var, "StringEquals": str(value)}


def _guard(var: str, value: Any) -> list[dict[str, Any]]:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return [{"Variable": var, "IsPresent": True},
            {"Variable": var, "IsNumeric" if numeric else "IsString": True}]


def _comparison(condition: Condition) -> dict[str, Any]:
    var, op, value = variable(condition.field), condition.op, condition.value
    if condition.field in NUMERIC_FIELDS and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value) if "." in value else int(value)
    if op == "eq":
        return {"And": [*_guard(var, value), _typed_equals(var, value)]}
    if op == "ne":
        return {"Not": {"And": [*_guard(var, value), _typed_equals(var, value)]}}
    if op == "in":
        options = [{"And": [*_guard(var, item), _typed_equals(var, item)]} for item in value]
        return options[0] if len(options) == 1 else {"Or": options}
    if op in ("gt", "gte", "lt", "lte"):
        operator = {"gt": "NumericGreaterThan", "gte": "NumericGreaterThanEquals", "lt": "NumericLessThan",
                    "lte": "NumericLessThanEquals"}[op]
        return {"And": [*_guard(var, value), {"Variable": var, operator: value}]}
    pattern = f"*{_escape_glob(value)}*" if op == "contains" else value
    return {"And": [*_guard(var, ""), {"Variable": var, "StringMatches": pattern}]}


def choice_rule(group: ConditionGroup | Condition) -> dict[str, Any]:
    """A Choice rule (without ``Next``) equivalent to ``mediaflow.conditions.evaluate``."""
    if isinstance(group, Condition):
        return _comparison(group)
    rules = [choice_rule(item) for item in group.conditions]
    if len(rules) == 1:
        return rules[0]
    return {"And" if group.logic == "and" else "Or": rules}

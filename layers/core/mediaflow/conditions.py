"""Conditions over a MediaRef, shared by the branch/condition kinds, trigger filters and the compiler."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mediaflow.wildcards import wildcard_match

MEDIA_FIELDS = ("mediaType", "contentType", "size", "width", "height", "durationMs", "filename", "extension")
NUMERIC_FIELDS = frozenset({"size", "width", "height", "durationMs"})
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "matches"]
ORDERING_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
OPERATOR_ALIASES = {
    "equals": "eq", "==": "eq", "=": "eq", "is": "eq",
    "not_equals": "ne", "notEquals": "ne", "!=": "ne", "is_not": "ne",
    ">": "gt", ">=": "gte", "<": "lt", "<=": "lte",
    "greater_than": "gt", "greaterThan": "gt", "less_than": "lt", "lessThan": "lt",
    "one_of": "in", "oneOf": "in", "includes": "contains", "like": "matches", "glob": "matches",
}
_METADATA_KEY = re.compile(r"^metadata\.[A-Za-z0-9_]{1,64}$")
# A run started by an event: its name, source, or a field of its data (up to four levels deep).
_EVENT_FIELD = re.compile(r"^event\.(eventName|source|data(\.[A-Za-z0-9_]{1,64}){1,4})$")
MAX_CONDITION_DEPTH = 4


class Condition(BaseModel):
    """One comparison: ``field op value``. ``matches`` takes a wildcard pattern where ``*`` is any text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="mediaType, contentType, size, width, height, durationMs, filename, "
                       "extension, metadata.<key>, or (event runs) event.eventName, event.source, "
                       "event.data.<key>")
    op: Operator = Field(default="eq", validation_alias="op")
    value: Any = Field(description="A string or number; a list for `in`")

    @model_validator(mode="before")
    @classmethod
    def _accept_operator_spellings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "operator" in data and "op" not in data:
                data["op"] = data.pop("operator")
            if isinstance(data.get("op"), str):
                data["op"] = OPERATOR_ALIASES.get(data["op"], data["op"])
        return data

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value in MEDIA_FIELDS or _METADATA_KEY.match(value) or _EVENT_FIELD.match(value):
            return value
        raise ValueError(f"unknown field {value!r}: use one of {', '.join(MEDIA_FIELDS)}, metadata.<key>, "
                         "event.eventName, event.source or event.data.<key>")

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        if self.op == "in":
            if not isinstance(self.value, list) or not self.value or len(self.value) > 50:
                raise ValueError("`in` needs a list of 1 to 50 values")
            if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in self.value):
                raise ValueError("`in` values must be strings or numbers")
        elif self.op in ORDERING_OPERATORS:
            if isinstance(self.value, bool) or not isinstance(self.value, int | float):
                raise ValueError(f"`{self.op}` needs a number")
        elif self.op in ("contains", "matches"):
            if not isinstance(self.value, str):
                raise ValueError(f"`{self.op}` needs a string")
        elif isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            raise ValueError(f"`{self.op}` needs a string or a number")
        if self.field in NUMERIC_FIELDS and self.op in ("contains", "matches"):
            raise ValueError(f"`{self.op}` does not apply to the numeric field {self.field}")
        return self


class ConditionGroup(BaseModel):
    """Conditions joined by ``and`` / ``or``; groups nest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    logic: Literal["and", "or"] = "and"
    conditions: list[Annotated[Condition | ConditionGroup, Field(union_mode="left_to_right")]] = Field(
        min_length=1, max_length=50
    )

    @model_validator(mode="before")
    @classmethod
    def _accept_logic_gate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "logicGate" in data and "logic" not in data:
            data = dict(data)
            data["logic"] = str(data.pop("logicGate")).lower()
        if isinstance(data, list):
            return {"logic": "and", "conditions": data}
        return data

    @model_validator(mode="after")
    def _depth(self) -> ConditionGroup:
        if self.depth() > MAX_CONDITION_DEPTH:
            raise ValueError(f"conditions nest deeper than {MAX_CONDITION_DEPTH} levels")
        return self

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.conditions if isinstance(c, ConditionGroup)), default=0)


def media_value(media: dict[str, Any], field: str) -> Any:
    """Read a condition field from a MediaRef dict (None when absent)."""
    if field.startswith("metadata."):
        return (media.get("metadata") or {}).get(field.split(".", 1)[1])
    if field.startswith("event."):
        value: Any = media.get("event")
        for part in field.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if field == "extension":
        name = str(media.get("filename") or media.get("key") or "")
        return name.rsplit(".", 1)[1].lower() if "." in name else ""
    return media.get(field)


def evaluate(group: ConditionGroup | Condition, media: dict[str, Any]) -> bool:
    """Evaluate conditions in Python (trigger filters; mirrors what the compiled Choice does)."""
    if isinstance(group, ConditionGroup):
        results = (evaluate(c, media) for c in group.conditions)
        return all(results) if group.logic == "and" else any(results)
    actual = media_value(media, group.field)
    if actual is None:
        return group.op == "ne"
    op, expected = group.op, group.value
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if op == "contains":
        return isinstance(actual, str) and expected in actual
    if op == "matches":
        return isinstance(actual, str) and wildcard_match(expected, actual)
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    return {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected,
            "lte": actual <= expected}[op]

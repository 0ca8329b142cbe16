"""Input mappings and pass-through values: per-run data that reaches nodes.

A node's ``inputMappings`` fill config fields when a run starts, each from a dotted path into the run's
context: ``inputs`` (the trigger's inputs; ``data`` and ``trigger`` are aliases), ``event`` (an event
trigger's ``{name, data, source}``), ``metadata`` (the media's metadata) and ``media`` (the media reference).
``{"width": "inputs.targetWidth"}`` resizes to the width the caller sent. A path that resolves to nothing
leaves the field as configured. The resolved definition is validated and compiled for that run only.

A node's ``passThroughValues`` (``{outputKey: inputKey}``) copy run inputs into the media's metadata when
the run starts, so they appear in the node's output, every later node's, the run's outputs and the
``workflow.completed`` webhook payload.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mediaflow.catalog import get_spec
from mediaflow.errors import InvalidDefinition
from mediaflow.media import MediaRef

SOURCES = ("inputs", "data", "trigger", "event", "metadata", "media")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_VALUE = 1024


def mapping_problems(kind: str, mappings: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each mapping that cannot work for a node of ``kind``."""
    spec = get_spec(kind)
    fields: set[str] = set()
    if spec is not None:
        model_fields = spec.config_model.model_fields
        fields = set(model_fields) | {f.alias for f in model_fields.values() if f.alias}
    problems = []
    for target, source in mappings.items():
        if spec is not None and target not in fields:
            problems.append((target, f"`{target}` is not a config field of {spec.kind}"))
        elif not isinstance(source, str) or not _PATH.match(source) or source.split(".", 1)[0] not in SOURCES:
            problems.append((target, f"the source must be a path starting with one of {', '.join(SOURCES)}"))
    return problems


def passthrough_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(out, "output keys are 1-128 letters, digits, '.', '_' or '-' and map to an input key")
            for out, source in values.items() if not _METADATA_KEY.match(out) or not isinstance(source, str)
            or not source]


def lookup(context: dict[str, Any], path: str) -> tuple[bool, Any]:
    """Follow a dotted path (list indexes allowed) through ``context``."""
    current: Any = context
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def run_context(inputs: dict[str, Any] | None, event: dict[str, Any] | None,
                media: MediaRef | None) -> dict[str, Any]:
    given = inputs or {}
    return {"inputs": given, "data": given, "trigger": given, "event": event or {},
            "metadata": dict(media.metadata) if media else {}, "media": media.to_state() if media else {}}


def resolve_definition(definition: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The definition with every node's mapped config fields filled from ``context``."""
    nodes = []
    changed = False
    for node in definition.get("nodes", []):
        mappings = node.get("inputMappings") or {}
        config = dict(node.get("config") or {})
        for target, source in mappings.items():
            found, value = lookup(context, str(source))
            if found:
                config[target] = value
                changed = True
        nodes.append({**node, "config": config} if mappings else node)
    return {**definition, "nodes": nodes} if changed else definition


def passthrough(definition: dict[str, Any], inputs: dict[str, Any] | None) -> dict[str, str]:
    """Metadata every item of the run starts with: each node's pass-through values found in ``inputs``."""
    values: dict[str, str] = {}
    for node in definition.get("nodes", []):
        for out_key, in_key in (node.get("passThroughValues") or {}).items():
            found, value = lookup(inputs or {}, str(in_key))
            if not found:
                continue
            if not _METADATA_KEY.match(out_key):
                raise InvalidDefinition(f"pass-through key {out_key!r} is not a metadata name", node_id=node["id"],
                                        field=f"passThroughValues.{out_key}")
            values[out_key] = (value if isinstance(value, str) else json.dumps(value))[:MAX_VALUE]
    return values


def prepare(definition: dict[str, Any], media: list[MediaRef], inputs: dict[str, Any] | None,
            event: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[MediaRef]]:
    """The run's resolved definition and its media carrying the pass-through values.

    Metadata paths resolve against the first media item (a batch shares one compiled definition)."""
    if not inputs and not event and not any(n.get("inputMappings") for n in definition.get("nodes", [])):
        return definition, media
    resolved = resolve_definition(definition, run_context(inputs, event, media[0] if media else None))
    extra = passthrough(definition, inputs)
    if extra:
        media = [m.model_copy(update={"metadata": {**m.metadata, **extra}}) for m in media]
    return resolved, media

"""Accept the payload shapes users of other systems already have, and normalise to the canonical one.

- Convertly: ``{"name", "isActive", "definition": {"nodes": [{"id", "data": {"kind", "config"}}], "edges",
  "outputFormat", "compressionLevel", "renamePattern", "resizeWidth", "branchConditions", ...}}``;
  the definition-level defaults fill the matching node configs.
- Mindia: a linear ``steps`` list plus ``stop_on_failure`` and upload filters.
- Strongly-style ``connections`` (``sourceNodeId``/``targetNodeId``) are read as edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mediaflow.catalog import KIND_ALIASES, get_spec

Source = Literal["canonical", "convertly", "mindia"]


@dataclass
class Normalised:
    definition: dict[str, Any]
    source: Source
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message)


def normalise(raw: Any) -> Normalised:
    """Return the canonical-shaped dict for any accepted input shape (validation happens afterwards)."""
    if not isinstance(raw, dict):
        return Normalised(definition={"__invalid__": raw}, source="canonical")
    inner = raw.get("definition")
    if isinstance(inner, dict) and _looks_like_convertly(inner):
        return _from_convertly(raw, inner)
    if _looks_like_convertly(raw):
        return _from_convertly({}, raw)
    if isinstance(raw.get("steps"), list) and "nodes" not in raw:
        return _from_mindia(raw)
    definition = dict(raw)
    meta: dict[str, Any] = {}
    for key in ("status", "tags", "isActive", "id", "version"):
        if key in definition:
            meta[key] = definition.pop(key)
    if "connections" in definition and "edges" not in definition:
        definition["edges"] = [_connection_to_edge(c) for c in definition.pop("connections") or []]
    return Normalised(definition=definition, source="canonical", meta=meta)


def _looks_like_convertly(candidate: dict[str, Any]) -> bool:
    nodes = candidate.get("nodes")
    return isinstance(nodes, list) and any(isinstance(n, dict) and isinstance(n.get("data"), dict) for n in nodes)


def _connection_to_edge(connection: Any) -> Any:
    if not isinstance(connection, dict) or "sourceNodeId" not in connection:
        return connection
    edge = {"source": connection.get("sourceNodeId"), "target": connection.get("targetNodeId")}
    if connection.get("sourcePort") in ("true", "false"):
        edge["kind"] = connection["sourcePort"]
    return edge


def _known_keys(kind: str) -> set[str]:
    spec = get_spec(kind)
    if spec is None:
        return set()
    fields = spec.config_model.model_fields
    return set(fields) | {f.alias for f in fields.values() if f.alias}


def _convertly_defaults(kind: str, top: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """Definition-level Convertly settings that apply to a node of ``kind``."""
    defaults: dict[str, Any] = {}
    if kind == "convert":
        defaults["outputFormat"] = definition.get("outputFormat") or top.get("outputFormat")
        defaults["compressionLevel"] = definition.get("compressionLevel")
    elif kind == "compress":
        defaults["compressionLevel"] = definition.get("compressionLevel")
        mode = top.get("compressionMode") or definition.get("compressionMode")
        defaults["mode"] = mode if mode in ("balanced", "max", "lossless") else None
    elif kind == "audio":
        defaults["outputFormat"] = definition.get("audioOutputFormat")
        defaults["compressionLevel"] = definition.get("audioCompressionLevel")
    elif kind == "resize":
        width = definition.get("resizeWidth")
        if isinstance(width, str) and width.strip().isdigit():
            width = int(width)
        defaults["width"] = width if isinstance(width, int) else None
    elif kind == "rename":
        defaults["pattern"] = definition.get("renamePattern")
    elif kind == "storage":
        defaults["destination"] = definition.get("storageDestination")
    elif kind == "branch":
        conditions = definition.get("branchConditions")
        if isinstance(conditions, list) and conditions:
            gate = str(definition.get("branchLogicGate") or "and").lower()
            conditions = {"logic": gate, "conditions": conditions}
        defaults["conditions"] = conditions or None
    elif kind == "publish":
        defaults["platforms"] = definition.get("selectedPlatforms")
    elif kind == "upload":
        source = definition.get("uploadSource")
        defaults["source"] = source if source in ("api", "s3") else None
    return {key: value for key, value in defaults.items() if value is not None}


def _from_convertly(top: dict[str, Any], definition: dict[str, Any]) -> Normalised:
    result = Normalised(definition={}, source="convertly")
    nodes: list[Any] = []
    for index, raw_node in enumerate(definition.get("nodes") or []):
        if not isinstance(raw_node, dict):
            nodes.append(raw_node)
            continue
        data: dict[str, Any] = raw_node["data"] if isinstance(raw_node.get("data"), dict) else {}
        kind = data.get("kind", raw_node.get("kind"))
        kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
        config = dict(data.get("config") or raw_node.get("config") or {})
        if isinstance(kind, str):
            for key, value in _convertly_defaults(kind, top, definition).items():
                config.setdefault(key, value)
            known = _known_keys(kind)
            for key in sorted(set(config) - known) if known or get_spec(kind) else []:
                result.warnings.append((f"nodes[{index}].data.config.{key}",
                                        f"ignored: `{kind}` has no setting `{key}`"))
                config.pop(key)
        node: dict[str, Any] = {"id": raw_node.get("id"), "kind": kind, "config": config}
        label = data.get("label") or raw_node.get("label")
        if label:
            node["label"] = label
        if isinstance(raw_node.get("position"), dict):
            node["position"] = raw_node["position"]
        nodes.append(node)
    edges = [
        {key: edge[key] for key in ("source", "target", "kind") if key in edge and edge[key] is not None}
        if isinstance(edge, dict) else edge
        for edge in definition.get("edges") or []
    ]
    for edge in edges:
        if isinstance(edge, dict) and "kind" not in edge:
            handle = next((e.get("sourceHandle") for e in definition.get("edges") or []
                           if isinstance(e, dict) and e.get("source") == edge.get("source")
                           and e.get("target") == edge.get("target")), None)
            if handle in ("true", "false"):
                edge["kind"] = handle
    trigger: dict[str, Any] = {"onUpload": definition.get("uploadSource", "api") != "none"}
    upload_conditions = definition.get("uploadConditions")
    if isinstance(upload_conditions, list) and upload_conditions:
        gate = str(definition.get("uploadLogicGate") or "and").lower()
        trigger["filters"] = {"conditions": {"logic": gate, "conditions": upload_conditions}}
    result.definition = {"nodes": nodes, "edges": edges, "trigger": trigger}
    if top.get("name"):
        result.definition["name"] = top["name"]
    if top.get("description"):
        result.definition["description"] = top["description"]
    if "isActive" in top:
        result.meta["status"] = "active" if top["isActive"] else "paused"
    if top.get("template"):
        result.meta["template"] = top["template"]
    # Kept as sent, so that the Convertly API returns them even where no node of their kind uses them.
    result.meta["definitionFields"] = {k: v for k, v in definition.items() if k not in ("nodes", "edges")}
    return result


def mindia_trigger(raw: dict[str, Any]) -> dict[str, Any]:
    """Mindia's ``trigger_on_upload`` and filters as a canonical trigger (a folder id is a key prefix)."""
    filters: dict[str, Any] = {}
    if raw.get("media_types"):
        filters["mediaTypes"] = raw["media_types"]
    if raw.get("content_types"):
        filters["contentTypes"] = raw["content_types"]
    if raw.get("folder_ids"):
        filters["prefixes"] = [f"{folder}/" for folder in raw["folder_ids"]]
    if raw.get("metadata_filter"):
        filters["metadata"] = {str(k): str(v) for k, v in dict(raw["metadata_filter"]).items()}
    return {"onUpload": bool(raw.get("trigger_on_upload", True)), "filters": filters}


def _from_mindia(raw: dict[str, Any]) -> Normalised:
    result = Normalised(definition={}, source="mindia")
    nodes: list[dict[str, Any]] = [{"id": "upload", "kind": "upload", "config": {}}]
    edges: list[dict[str, Any]] = []
    previous = "upload"
    for index, step in enumerate(raw["steps"]):
        if not isinstance(step, dict):
            nodes.append({"id": f"step-{index + 1}", "kind": step, "config": {}})
            continue
        kind = step.get("kind") or step.get("plugin_name") or step.get("type")
        kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
        node_id = str(step.get("id") or f"step-{index + 1}")
        node: dict[str, Any] = {"id": node_id, "kind": kind, "config": dict(step.get("config") or {})}
        if step.get("name") or step.get("label"):
            node["label"] = step.get("name") or step.get("label")
        if step.get("enabled") is False:
            result.warnings.append((f"steps[{index}]", "disabled step left out"))
            continue
        nodes.append(node)
        edges.append({"source": previous, "target": node_id})
        previous = node_id
    result.definition = {"nodes": nodes, "edges": edges, "trigger": mindia_trigger(raw),
                         "settings": {"stopOnFailure": bool(raw.get("stop_on_failure", True))}}
    for key in ("name", "description"):
        if raw.get(key):
            result.definition[key] = raw[key]
    if "enabled" in raw:
        result.meta["status"] = "active" if raw["enabled"] else "paused"
    return result


# -- back to the products' shapes (the compatibility routers answer in them) ---------------------------

# (kind, node config key) -> the Convertly definition-level field it comes from (see _convertly_defaults)
_CONVERTLY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("convert", "outputFormat", "outputFormat"), ("convert", "compressionLevel", "compressionLevel"),
    ("compress", "compressionLevel", "compressionLevel"), ("audio", "outputFormat", "audioOutputFormat"),
    ("audio", "compressionLevel", "audioCompressionLevel"), ("rename", "pattern", "renamePattern"),
    ("storage", "destination", "storageDestination"), ("publish", "platforms", "selectedPlatforms"),
    ("upload", "source", "uploadSource"),
)


def to_convertly_definition(canonical: dict[str, Any]) -> dict[str, Any]:
    """A canonical definition in Convertly's builder shape: ``nodes[].data.kind``, ``edges`` and the
    definition-level fields read back from the first node of each kind."""
    nodes = canonical.get("nodes") or []
    definition: dict[str, Any] = {
        **(canonical.get("definitionFields") or {}),
        "nodes": [{"id": n["id"], "type": n["kind"],
                   "data": {"kind": n["kind"], "config": dict(n.get("config") or {}),
                            **({"label": n["label"]} if n.get("label") else {})},
                   **({"position": n["position"]} if n.get("position") else {})} for n in nodes],
        "edges": [{"id": f"{e['source']}-{e['target']}", "source": e["source"], "target": e["target"],
                   **({"kind": e["kind"], "sourceHandle": e["kind"]} if e.get("kind") else {})}
                  for e in canonical.get("edges") or []],
    }
    for kind, key, field_name in _CONVERTLY_FIELDS:
        node = next((n for n in nodes if n["kind"] == kind and key in (n.get("config") or {})), None)
        if node is not None and node is next(n for n in nodes if n["kind"] == kind):
            definition[field_name] = node["config"][key]
    resize = next((n for n in nodes if n["kind"] == "resize" and (n.get("config") or {}).get("width")), None)
    if resize is not None:
        definition["resizeWidth"] = str(resize["config"]["width"])
    branch = next((n for n in nodes if n["kind"] == "branch" and (n.get("config") or {}).get("conditions")), None)
    if branch is not None:
        group = branch["config"]["conditions"]
        definition["branchConditions"] = group.get("conditions", [])
        definition["branchLogicGate"] = group.get("logic", "and")
    trigger = canonical.get("trigger") or {}
    definition.setdefault("uploadSource", "api" if trigger.get("onUpload", True) else "none")
    group = (trigger.get("filters") or {}).get("conditions") or {}
    definition["uploadLogicGate"] = group.get("logic", "and")
    definition["uploadConditions"] = group.get("conditions", [])
    return definition


def to_mindia_steps(canonical: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes after the trigger as Mindia plugin steps: in chain order, breadth first where the graph
    branches (Mindia's list cannot show the branches themselves)."""
    nodes = {n["id"]: n for n in canonical.get("nodes") or []}
    following: dict[str, list[str]] = {}
    for edge in canonical.get("edges") or []:
        following.setdefault(edge["source"], []).append(edge["target"])
    queue = [n["id"] for n in nodes.values() if n["kind"] in ("upload", "event")]
    seen = set(queue)
    steps: list[dict[str, Any]] = []
    while queue:
        for target in following.get(queue.pop(0), []):
            if target in seen or target not in nodes:
                continue
            seen.add(target)
            queue.append(target)
            node = nodes[target]
            steps.append({"id": node["id"], "action": "plugin", "plugin_name": node["kind"],
                          "config": dict(node.get("config") or {}),
                          **({"name": node["label"]} if node.get("label") else {})})
    return steps


def to_mindia_filters(canonical: dict[str, Any]) -> dict[str, Any]:
    """Trigger filters as Mindia's ``media_types`` / ``folder_ids`` / ``content_types`` / ``metadata_filter``
    (a folder id is the first key segment below the tenant's uploads/, see docs/compat.md)."""
    trigger = canonical.get("trigger") or {}
    filters = trigger.get("filters") or {}
    return {
        "trigger_on_upload": bool(trigger.get("onUpload", True)),
        "media_types": filters.get("mediaTypes") or None,
        "folder_ids": [p.rstrip("/") for p in filters.get("prefixes") or []] or None,
        "content_types": filters.get("contentTypes") or None,
        "metadata_filter": filters.get("metadata") or None,
    }


def media_id(tenant: str, key: str) -> str:
    """Mindia's ``media_id`` of a stored object: the key below the tenant, URL-safe base64 (no padding)."""
    import base64

    relative = key.removeprefix(f"{tenant}/")
    return base64.urlsafe_b64encode(relative.encode()).decode().rstrip("=")


def media_key(tenant: str, identifier: str) -> str | None:
    """The stored key a ``media_id`` names (None when it is not one this API handed out)."""
    import base64
    import binascii

    try:
        relative = base64.urlsafe_b64decode(identifier + "=" * (-len(identifier) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not relative or relative.startswith("/") or ".." in relative.split("/"):
        return None
    return f"{tenant}/{relative}"

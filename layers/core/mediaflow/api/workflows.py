"""Workflow use cases behind the API: parse any accepted shape, store with versions, edit nodes and
connections, validate, plan, diff, templates, stats and events. Pure logic over the ports."""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mediaflow.api.context import ApiContext
from mediaflow.api.problems import ApiProblem, DefinitionRejected, issue_errors, rejected_as
from mediaflow.catalog import get_spec
from mediaflow.compat import normalise
from mediaflow.compiler import compile_definition
from mediaflow.compiler.plan import plan_compiled
from mediaflow.definition import WorkflowDefinition
from mediaflow.errors import Conflict, NotFound
from mediaflow.validation import ValidationReport, validate

STATUSES = ("draft", "active", "paused", "archived")
# Record fields other APIs add (the /api/v1 compatibility router): kept by every edit of a workflow.
EXTENSION_FIELDS = ("entityTypeId", "ownerId", "shares", "isPublic", "isTemplate", "config", "lifecycle",
                    "deploymentStatus", "stoppedReason", "replicas", "scopes")
_VERSION_FIELDS = ("versionTag", "versionNote")
_MAX_LIST = 1000


def parse(raw: dict[str, Any]) -> tuple[ValidationReport, dict[str, Any]]:
    """The validation report and the canonical definition; drafts may hold graph or config errors,
    but a body that is not a workflow at all is refused (422)."""
    report = validate(raw)
    if report.definition is not None:
        return report, report.definition.canonical()
    try:
        parsed = WorkflowDefinition.model_validate(normalise(raw).definition)
    except ValidationError:
        raise DefinitionRejected("the body is not a workflow definition", issue_errors(report.errors),
                                 issue_errors(report.warnings)) from None
    if any(issue.code in ("too_large", "too_deep", "malformed_json", "limit_exceeded") for issue in report.errors):
        raise DefinitionRejected("the workflow exceeds a limit", issue_errors(report.errors))
    return report, parsed.canonical()


def require_valid(report: ValidationReport, why: str) -> None:
    if not report.valid:
        raise DefinitionRejected(f"the workflow is not valid: {why}", issue_errors(report.errors),
                                 issue_errors(report.warnings))


def etag(record: dict[str, Any]) -> str:
    return f'"{record["version"]}"'


def parse_if_match(header: str | None) -> int | None:
    if not header or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 10:
        raise ApiProblem(400, "If-Match must be an ETag returned by this API", code="BadIfMatch",
                         errors=[{"field": "If-Match", "path": "headers.If-Match", "message": "not an ETag"}])
    return int(value)


def view(record: dict[str, Any], last_run_at: str | None = None) -> dict[str, Any]:
    """The API shape of a stored workflow record."""
    definition = record.get("definition") or {}
    nodes, edges = definition.get("nodes", []), definition.get("edges", [])
    return {
        "id": record["id"], "workflowId": record["id"], "name": record.get("name") or definition.get("name") or "",
        "description": record.get("description") or definition.get("description"),
        "status": record.get("status", "draft"), "version": record["version"], "tags": record.get("tags") or [],
        "nodes": nodes, "edges": edges, "trigger": definition.get("trigger", {}),
        "settings": definition.get("settings", {}), "valid": bool(record.get("valid", True)),
        "source": record.get("source", "canonical"), "executionType": record.get("executionType"),
        "nodeCount": len(nodes), "connectionCount": len(edges), "versionTag": record.get("versionTag"),
        "template": record.get("template"), "definitionFields": record.get("definitionFields"),
        "lastRunAt": last_run_at, "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
    }


class WorkflowService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.store = ctx.workflows

    # -- storing -------------------------------------------------------------------------------------
    def _record(self, report: ValidationReport, canonical: dict[str, Any], *, status: str,
                tags: list[str] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if status == "active":
            require_valid(report, "only a valid workflow can be active")
        execution_type = None
        if report.valid:
            execution_type = compile_definition(report).execution_type
        record = {"definition": canonical, "name": canonical.get("name") or "",
                  "description": canonical.get("description"), "status": status, "tags": tags or [],
                  "valid": report.valid, "source": report.source, "executionType": execution_type}
        return {**record, **(extra or {})}

    def _save(self, tenant: str, record: dict[str, Any], expected: int | None) -> dict[str, Any]:
        saved = self.store.put(tenant, record, expected_version=expected)
        if self.ctx.on_workflow_saved is not None:
            self.ctx.on_workflow_saved(tenant, saved)
        return saved

    def create(self, tenant: str, raw: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        report, canonical = parse(raw)
        existing = report.meta.get("id") or raw.get("id")
        if existing:  # Convertly: POST with an id replaces that workflow
            return self.replace(tenant, str(existing), raw, None)
        status = str(report.meta.get("status") or "draft")
        record = self._record(report, canonical, status=status, tags=_tags(report.meta.get("tags")),
                              extra={**(extra or {}), **_template(report.meta)})
        return self._save(tenant, {**record, "id": f"wf_{uuid.uuid4().hex[:16]}"}, 0)

    def replace(self, tenant: str, workflow_id: str, raw: dict[str, Any], expected: int | None) -> dict[str, Any]:
        current = self.store.get(tenant, workflow_id)
        report, canonical = parse(raw)
        if expected is None and isinstance(report.meta.get("version"), int):
            expected = int(report.meta["version"])
        status = str(report.meta.get("status") or current.get("status") or "draft")
        tags = _tags(report.meta.get("tags")) if "tags" in report.meta else current.get("tags")
        record = self._record(report, canonical, status=status, tags=tags,
                              extra={**_extensions(current), **(_template(report.meta) or _template(current))})
        return self._save(tenant, {**record, "id": workflow_id}, expected if expected is not None
                          else current["version"])

    def update(self, tenant: str, workflow_id: str, changes: dict[str, Any], expected: int | None = None,
               definition: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply field changes (name, description, tags, status) and/or a new definition."""
        current = self.store.get(tenant, workflow_id)
        if expected is not None and expected != current["version"]:
            raise Conflict(f"workflow {workflow_id!r} is at version {current['version']}, not {expected}",
                           field="version")
        base = dict(definition if definition is not None else current["definition"])
        for key in ("name", "description"):
            if changes.get(key) is not None:
                base[key] = changes[key]
        report, canonical = parse(base)
        status = changes.get("status") or current.get("status", "draft")
        tags = changes["tags"] if changes.get("tags") is not None else current.get("tags")
        record = self._record(report, canonical, status=status, tags=tags,
                              extra={**_extensions(current), **_template(current), **(extra or {})})
        return self._save(tenant, {**record, "id": workflow_id}, current["version"])

    def delete(self, tenant: str, workflow_id: str) -> None:
        self.store.delete(tenant, workflow_id)
        if self.ctx.on_workflow_deleted is not None:
            self.ctx.on_workflow_deleted(tenant, workflow_id)

    def duplicate(self, tenant: str, workflow_id: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        current = self.store.get(tenant, workflow_id)
        definition = dict(current["definition"])
        definition["name"] = f"{current.get('name') or definition.get('name') or workflow_id} (copy)"[:200]
        report, canonical = parse(definition)
        record = self._record(report, canonical, status="draft", tags=current.get("tags"), extra=extra)
        return self._save(tenant, {**record, "id": f"wf_{uuid.uuid4().hex[:16]}"}, 0)

    # -- reading -------------------------------------------------------------------------------------
    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        record = self.store.get(tenant, workflow_id)
        runs = self.ctx.runs.list_runs(tenant, workflow_id, limit=1)
        return view(record, runs[0]["createdAt"] if runs else None)

    def list(self, tenant: str, *, status: str | None, tag: str | None, search: str | None, sort: str,
             limit: int, offset: int, cursor: str | None) -> dict[str, Any]:
        records = self.store.list(tenant, status=status, limit=_MAX_LIST) if status else \
            self.store.list(tenant, limit=_MAX_LIST)
        if tag:
            records = [r for r in records if tag in (r.get("tags") or [])]
        if search:
            needle = search.lower()
            records = [r for r in records if needle in str(r.get("name") or "").lower()
                       or needle in str(r.get("description") or "").lower()]
        field, _, direction = sort.partition(":")
        records.sort(key=lambda r: (str(r.get(field) or ""), r["id"]), reverse=direction != "asc")
        start = _decode_cursor(cursor) if cursor else offset
        page = records[start:start + limit]
        following = start + limit
        return {"count": len(records), "limit": limit, "offset": start,
                "nextCursor": _encode_cursor(following) if following < len(records) else None,
                "workflows": [view(r) for r in page]}

    def stats(self, tenant: str) -> dict[str, Any]:
        records = self.store.list(tenant, limit=_MAX_LIST)
        counts = Counter(str(r.get("status")) for r in records)
        valid = sum(1 for r in records if r.get("valid", True))
        return {"total": len(records), **{s: counts.get(s, 0) for s in STATUSES}, "valid": valid,
                "invalid": len(records) - valid}

    def check(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        record = self.store.get(tenant, workflow_id)
        report = validate(record["definition"])
        definition = record["definition"]
        return {"workflowId": workflow_id, **report.to_dict(), "nodeCount": len(definition.get("nodes", [])),
                "connectionCount": len(definition.get("edges", []))}

    def check_draft(self, raw: dict[str, Any], items: int) -> dict[str, Any]:
        """Validation and, when valid, the plan of a definition that is not saved (nothing is stored)."""
        from mediaflow.compiler import BatchOptions

        report, canonical = parse(raw)
        plan = None
        if report.valid and report.definition is not None:
            batch = BatchOptions(expected_items=items) if items > 1 else None
            plan = plan_compiled(compile_definition(report, batch=batch)).to_dict()
        return {**report.to_dict(), "nodeCount": len(canonical.get("nodes", [])),
                "connectionCount": len(canonical.get("edges", [])), "plan": plan}

    def plan(self, tenant: str, workflow_id: str, items: int) -> dict[str, Any]:
        from mediaflow.compiler import BatchOptions

        batch = BatchOptions(expected_items=items) if items > 1 else None
        with rejected_as("the workflow is not valid: only a valid workflow has a plan"):
            compiled = compile_definition(self.store.get(tenant, workflow_id)["definition"], batch=batch)
        return {"workflowId": workflow_id, **plan_compiled(compiled).to_dict()}

    # -- versions ------------------------------------------------------------------------------------
    def versions(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        current = self.store.get(tenant, workflow_id)
        infos = []
        for number in self.store.versions(tenant, workflow_id):
            snap = self.store.get_version(tenant, workflow_id, number)
            infos.append({"version": number, "versionTag": snap.get("versionTag"),
                          "description": snap.get("versionNote"), "status": snap.get("status", "draft"),
                          "createdBy": snap.get("createdBy"), "createdAt": snap["updatedAt"]})
        return {"workflowId": workflow_id, "currentVersion": current["version"], "versions": infos}

    def snapshot(self, tenant: str, workflow_id: str, tag: str | None, note: str | None,
                 created_by: str | None = None) -> dict[str, Any]:
        current = self.store.get(tenant, workflow_id)
        record = {k: v for k, v in current.items() if k not in ("tenant", "version", "createdAt", "updatedAt")}
        record.update({"versionTag": tag, "versionNote": note, "createdBy": created_by})
        saved = self._save(tenant, record, current["version"])
        return {"workflowId": workflow_id, "version": saved["version"], "versionTag": tag}

    def version(self, tenant: str, workflow_id: str, number: int) -> dict[str, Any]:
        return view(self.store.get_version(tenant, workflow_id, number))

    def diff(self, tenant: str, workflow_id: str, a: int, b: int) -> dict[str, Any]:
        old = self.store.get_version(tenant, workflow_id, a)
        new = self.store.get_version(tenant, workflow_id, b)
        old_def, new_def = old["definition"], new["definition"]
        old_nodes = {n["id"]: n for n in old_def.get("nodes", [])}
        new_nodes = {n["id"]: n for n in new_def.get("nodes", [])}
        old_edges = [_edge_key(e) for e in old_def.get("edges", [])]
        new_edges = [_edge_key(e) for e in new_def.get("edges", [])]
        changed = [{"nodeId": nid, "before": old_nodes[nid], "after": node} for nid, node in new_nodes.items()
                   if nid in old_nodes and old_nodes[nid] != node]
        fields = sorted({k for k in ("name", "description", "trigger", "settings") if old_def.get(k) != new_def.get(k)}
                        | {k for k in ("status", "tags") if old.get(k) != new.get(k)})
        return {"workflowId": workflow_id, "fromVersion": a, "toVersion": b,
                "nodesAdded": [n for n in new_nodes if n not in old_nodes],
                "nodesRemoved": [n for n in old_nodes if n not in new_nodes], "nodesChanged": changed,
                "edgesAdded": [json.loads(e) for e in new_edges if e not in old_edges],
                "edgesRemoved": [json.loads(e) for e in old_edges if e not in new_edges], "fieldsChanged": fields}

    # -- nodes and connections -----------------------------------------------------------------------
    def nodes(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        definition = self.store.get(tenant, workflow_id)["definition"]
        views = [node_view(n, definition) for n in definition.get("nodes", [])]
        return {"workflowId": workflow_id, "count": len(views), "nodes": views}

    def add_node(self, tenant: str, workflow_id: str, node: dict[str, Any], after: str | None,
                 edge_kind: str | None) -> dict[str, Any]:
        definition = dict(self.store.get(tenant, workflow_id)["definition"])
        nodes = list(definition.get("nodes", []))
        taken = {n["id"] for n in nodes}
        node_id = node.get("id") or _fresh_id(str(node["kind"]), taken)
        if node_id in taken:
            raise Conflict(f"node {node_id!r} already exists", field="id", node_id=node_id)
        if after is not None and after not in taken:
            raise NotFound(f"node {after!r} not found", field="after", node_id=after)
        nodes.append({k: v for k, v in {**node, "id": node_id}.items() if v is not None})
        edges = list(definition.get("edges", []))
        if after is not None:
            edges.append({k: v for k, v in {"source": after, "target": node_id, "kind": edge_kind}.items() if v})
        saved = self.update(tenant, workflow_id, {}, definition={**definition, "nodes": nodes, "edges": edges})
        return self._node_result(saved, node_id)

    def update_node(self, tenant: str, workflow_id: str, node_id: str, config: dict[str, Any] | None,
                    label: str | None, position: dict[str, float] | None, replace: bool) -> dict[str, Any]:
        definition = dict(self.store.get(tenant, workflow_id)["definition"])
        nodes = [dict(n) for n in definition.get("nodes", [])]
        target = next((n for n in nodes if n["id"] == node_id), None)
        if target is None:
            raise NotFound(f"node {node_id!r} not found", node_id=node_id)
        if config is not None:
            target["config"] = dict(config) if replace else {**target.get("config", {}), **config}
        if label is not None:
            target["label"] = label
        if position is not None:
            target["position"] = position
        saved = self.update(tenant, workflow_id, {}, definition={**definition, "nodes": nodes})
        return self._node_result(saved, node_id)

    def remove_node(self, tenant: str, workflow_id: str, node_id: str) -> dict[str, Any]:
        definition = dict(self.store.get(tenant, workflow_id)["definition"])
        nodes = [n for n in definition.get("nodes", []) if n["id"] != node_id]
        if len(nodes) == len(definition.get("nodes", [])):
            raise NotFound(f"node {node_id!r} not found", node_id=node_id)
        edges = [e for e in definition.get("edges", []) if node_id not in (e["source"], e["target"])]
        removed = len(definition.get("edges", [])) - len(edges)
        saved = self.update(tenant, workflow_id, {}, definition={**definition, "nodes": nodes, "edges": edges})
        return {"workflowId": workflow_id, "nodeId": node_id, "version": saved["version"], "removed": True,
                "removedConnections": removed, "valid": saved["valid"]}

    def connect(self, tenant: str, workflow_id: str, source: str, target: str, kind: str | None) -> dict[str, Any]:
        definition = dict(self.store.get(tenant, workflow_id)["definition"])
        ids = {n["id"] for n in definition.get("nodes", [])}
        for end, node_id in (("source", source), ("target", target)):
            if node_id not in ids:
                raise NotFound(f"node {node_id!r} not found", field=end, node_id=node_id)
        edges = list(definition.get("edges", []))
        if any(e["source"] == source and e["target"] == target for e in edges):
            raise Conflict(f"{source} -> {target} already exists", field="target", node_id=source)
        edge = {k: v for k, v in {"source": source, "target": target, "kind": kind}.items() if v}
        saved = self.update(tenant, workflow_id, {}, definition={**definition, "edges": [*edges, edge]})
        return {"workflowId": workflow_id, "connectionId": connection_id(edge), "version": saved["version"],
                "connection": {"id": connection_id(edge), **edge}, "valid": saved["valid"]}

    def disconnect(self, tenant: str, workflow_id: str, conn_id: str) -> dict[str, Any]:
        definition = dict(self.store.get(tenant, workflow_id)["definition"])
        edges = [e for e in definition.get("edges", []) if connection_id(e) != conn_id]
        if len(edges) == len(definition.get("edges", [])):
            raise NotFound(f"connection {conn_id!r} not found", field="connectionId")
        saved = self.update(tenant, workflow_id, {}, definition={**definition, "edges": edges})
        return {"workflowId": workflow_id, "connectionId": conn_id, "version": saved["version"], "removed": True,
                "valid": saved["valid"]}

    def _node_result(self, saved: dict[str, Any], node_id: str) -> dict[str, Any]:
        definition = saved["definition"]
        node = next(n for n in definition["nodes"] if n["id"] == node_id)
        return {"workflowId": saved["id"], "nodeId": node_id, "version": saved["version"],
                "node": node_view(node, definition), "valid": saved["valid"]}

    # -- templates -----------------------------------------------------------------------------------
    def from_template(self, tenant: str, template_id: str, name: str | None, status: str | None) -> dict[str, Any]:
        template = templates().get(template_id)
        if template is None:
            raise NotFound(f"template {template_id!r} not found", field="templateId")
        raw = {k: v for k, v in template.items() if k not in ("id", "tags", "createdAt")}
        if name:
            raw["name"] = name
        report, canonical = parse(raw)
        record = self._record(report, canonical, status=status or "draft", tags=template.get("tags"),
                              extra={"template": template_id})
        return self._save(tenant, {**record, "id": f"wf_{uuid.uuid4().hex[:16]}"}, 0)


def connection_id(edge: dict[str, Any]) -> str:
    return f"{edge['source']}~{edge['target']}"


def node_view(node: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    edges = definition.get("edges", [])
    spec = get_spec(str(node.get("kind")))
    return {"id": node["id"], "kind": node["kind"], "type": node["kind"], "label": node.get("label"),
            "category": spec.category if spec else None, "position": node.get("position"),
            "config": node.get("config") or {}, "hasConfig": bool(node.get("config")),
            "inboundConnections": sum(1 for e in edges if e["target"] == node["id"]),
            "outboundConnections": sum(1 for e in edges if e["source"] == node["id"])}


def _edge_key(edge: dict[str, Any]) -> str:
    return json.dumps({k: edge[k] for k in ("source", "target", "kind") if edge.get(k)}, sort_keys=True)


def _fresh_id(kind: str, taken: set[str]) -> str:
    base = "".join(c if c.isalnum() or c in "-_" else "-" for c in kind)[:50] or "node"
    index = 1
    while f"{base}-{index}" in taken:
        index += 1
    return f"{base}-{index}"


def _extensions(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in EXTENSION_FIELDS if key in record}


def _template(source: dict[str, Any]) -> dict[str, Any]:
    """The Convertly ``template`` name and definition-level fields a workflow was saved with (echoed back by
    the compatible API; the fields themselves are applied to the nodes by ``mediaflow.compat``)."""
    kept = {"template": str(source["template"])[:100]} if source.get("template") else {}
    if isinstance(source.get("definitionFields"), dict):
        kept["definitionFields"] = source["definitionFields"]
    return kept


def _tags(value: Any) -> list[str]:
    return [str(t) for t in value][:50] if isinstance(value, list) else []


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiProblem(400, "the cursor is not one this API returned", code="BadCursor",
                         errors=[{"field": "cursor", "path": "query.cursor", "message": "invalid cursor"}]) from None
    if offset < 0:
        raise ApiProblem(400, "the cursor is not one this API returned", code="BadCursor")
    return offset


def _examples_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        packaged = resources.files("mediaflow") / "examples"
        if packaged.is_dir():
            dirs.append(Path(str(packaged)))
    except (ModuleNotFoundError, NotADirectoryError):
        pass
    repo = Path(__file__).resolve().parents[4] / "examples"
    if repo.is_dir():
        dirs.append(repo)
    return dirs


@cache
def templates() -> dict[str, dict[str, Any]]:
    """Workflow templates: the example workflows (the packaged copy, else the repository's examples/)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in _examples_dirs():
        for path in sorted(folder.glob("*.json")):
            if path.stem in found:
                continue
            report = validate(path.read_bytes())
            if not report.valid or report.definition is None:
                continue
            canonical = report.definition.canonical()
            found[path.stem] = {"id": path.stem, "name": canonical.get("name") or path.stem,
                                "description": canonical.get("description"), "tags": [report.source],
                                "nodes": canonical.get("nodes", []), "edges": canonical.get("edges", []),
                                "trigger": canonical.get("trigger", {}), "settings": canonical.get("settings", {}),
                                "createdAt": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(
                                    timespec="seconds").replace("+00:00", "Z")}
    return found

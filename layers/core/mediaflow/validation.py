"""Validation of workflow definitions (pure). Every issue names the node id and the field path."""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mediaflow.catalog import RUNTIMES, catalog, get_spec
from mediaflow.compat import Source, normalise
from mediaflow.definition import WorkflowDefinition

if TYPE_CHECKING:
    from mediaflow.nodes.base import NodeConfig


@dataclass(frozen=True)
class Limits:
    """Documented limits (docs/limits.md)."""

    max_nodes: int = 200
    max_edges: int = 400
    max_fan_out: int = 16
    max_depth: int = 64
    max_json_depth: int = 32
    max_document_bytes: int = 1_000_000
    max_expanded_tasks: int = 500


LIMITS = Limits()


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    path: str = ""
    node_id: str | None = None
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "path": self.path, "message": self.message,
                                "severity": self.severity}
        if self.node_id is not None:
            data["nodeId"] = self.node_id
        return data

    def __str__(self) -> str:
        where = " ".join(part for part in (f"[{self.node_id}]" if self.node_id else "", self.path) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ValidationReport:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    definition: WorkflowDefinition | None = None
    configs: dict[str, NodeConfig] = field(default_factory=dict)
    source: Source = "canonical"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors and self.definition is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "source": self.source,
            "errors": [issue.to_dict() for issue in self.errors],
            "warnings": [issue.to_dict() for issue in self.warnings],
        }


def parse_json(text: str | bytes | bytearray) -> tuple[Any, list[Issue]]:
    """Parse JSON without ever raising: malformed or absurdly nested input becomes an issue."""
    if isinstance(text, bytes | bytearray) and len(text) > LIMITS.max_document_bytes:
        return None, [Issue("too_large", f"the document is larger than {LIMITS.max_document_bytes} bytes")]
    if isinstance(text, str) and len(text.encode()) > LIMITS.max_document_bytes:
        return None, [Issue("too_large", f"the document is larger than {LIMITS.max_document_bytes} bytes")]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as error:
        return None, [Issue("malformed_json", f"not valid JSON: {error.msg} at line {error.lineno} "
                            f"column {error.colno}")]
    except (RecursionError, UnicodeDecodeError, ValueError):
        return None, [Issue("malformed_json", "not valid JSON: nested too deeply or not UTF-8")]


def _json_depth_issue(value: Any) -> Issue | None:
    """Iterative depth check, so hostile nesting cannot reach a recursive validator."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        current, depth, path = stack.pop()
        if depth > LIMITS.max_json_depth:
            return Issue("too_deep", f"nested deeper than {LIMITS.max_json_depth} levels", path=path)
        if isinstance(current, dict):
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(current))
    return None


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _pydantic_issues(error: ValidationError, prefix: str, node_id: str | None,
                     raw_nodes: list[Any]) -> list[Issue]:
    issues = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        owner = node_id
        if owner is None and len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            raw = raw_nodes[loc[1]] if loc[1] < len(raw_nodes) else None
            owner = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") is not None else None
        path = _loc_to_path(loc)
        message = item["msg"].removeprefix("Value error, ")
        code = {"missing": "missing", "extra_forbidden": "unknown_setting"}.get(item["type"], "invalid_value")
        issues.append(Issue(code,
                            message, f"{prefix}.{path}" if prefix and path else prefix or path, owner))
    return issues


def validate(raw: Any) -> ValidationReport:
    """Validate any accepted input shape; never raises on bad input."""
    report = ValidationReport()
    if isinstance(raw, str | bytes | bytearray):
        raw, parse_issues = parse_json(raw)
        if parse_issues:
            report.errors.extend(parse_issues)
            return report
    depth_issue = _json_depth_issue(raw)
    if depth_issue is not None:
        report.errors.append(depth_issue)
        return report
    if not isinstance(raw, dict):
        report.errors.append(Issue("invalid_type", "a workflow definition must be a JSON object"))
        return report
    normalised = normalise(raw)
    report.source, report.meta = normalised.source, normalised.meta
    report.warnings.extend(Issue("ignored", message, path, severity="warning")
                           for path, message in normalised.warnings)
    body = normalised.definition
    for key, limit in (("nodes", LIMITS.max_nodes), ("edges", LIMITS.max_edges)):
        if isinstance(body.get(key), list) and len(body[key]) > limit:
            report.errors.append(Issue("limit_exceeded", f"{len(body[key])} {key}: at most {limit} allowed", key))
    if report.errors:
        return report
    raw_nodes: list[Any] = body["nodes"] if isinstance(body.get("nodes"), list) else []
    try:
        definition = WorkflowDefinition.model_validate(body)
    except ValidationError as error:
        report.errors.extend(_pydantic_issues(error, "", None, raw_nodes))
        return report
    configs, canonical_nodes = _validate_nodes(definition, report)
    _validate_graph(definition, report)
    if report.errors:
        return report
    report.configs = configs
    report.definition = definition.model_copy(update={"nodes": canonical_nodes})
    return report


def _validate_nodes(
    definition: WorkflowDefinition, report: ValidationReport
) -> tuple[dict[str, NodeConfig], list[Any]]:
    configs: dict[str, NodeConfig] = {}
    canonical = []
    seen: dict[str, int] = {}
    for index, node in enumerate(definition.nodes):
        path = f"nodes[{index}]"
        if node.id in seen:
            report.errors.append(Issue("duplicate_id", f"id `{node.id}` is also used by nodes[{seen[node.id]}]",
                                       f"{path}.id", node.id))
            continue
        seen[node.id] = index
        spec = get_spec(node.kind)
        if spec is None:
            close = difflib.get_close_matches(node.kind, list(catalog()), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            report.errors.append(Issue("unknown_kind", f"unknown kind `{node.kind}`{hint}", f"{path}.kind", node.id))
            continue
        try:
            config = spec.config_model.model_validate(node.config)
        except ValidationError as error:
            report.errors.extend(_pydantic_issues(error, f"{path}.config", node.id, []))
            continue
        configs[node.id] = config
        canonical.append(node.model_copy(update={
            "kind": spec.kind,
            "config": config.model_dump(mode="json", by_alias=True, exclude_unset=True),
        }))
    return configs, canonical


def _find_cycle(children: dict[str, list[str]], nodes: list[str]) -> list[str] | None:
    """Iterative DFS; returns one cycle as a list of ids (first id repeated at the end)."""
    state: dict[str, int] = {}
    for root in nodes:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, child_index = stack.pop()
            if child_index == 0:
                state[node] = 1
                path.append(node)
            kids = children.get(node, [])
            if child_index < len(kids):
                stack.append((node, child_index + 1))
                child = kids[child_index]
                if state.get(child) == 1:
                    return [*path[path.index(child):], child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def _reached_without_media(start: str, children: dict[str, list[str]], kinds: dict[str, str]) -> set[str]:
    """The nodes a run with no media reaches from ``start`` before any node that fetches media itself."""
    reached: set[str] = set()
    pending = [start]
    while pending:
        node = pending.pop()
        if node in reached:
            continue
        reached.add(node)
        spec = get_spec(kinds.get(node, ""))
        if spec is None or not spec.makes_media:
            pending.extend(children.get(node, []))
    return reached


def _validate_graph(definition: WorkflowDefinition, report: ValidationReport) -> None:
    ids = {node.id: node for node in definition.nodes}
    kinds = {node.id: (spec.kind if (spec := get_spec(node.kind)) else node.kind) for node in definition.nodes}
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, list[str]] = defaultdict(list)
    out_edges: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    seen_edges: set[tuple[str, str]] = set()
    for index, edge in enumerate(definition.edges):
        path = f"edges[{index}]"
        dangling = False
        for end in ("source", "target"):
            if getattr(edge, end) not in ids:
                report.errors.append(Issue("dangling_edge", f"{end} `{getattr(edge, end)}` is not a node",
                                           f"{path}.{end}"))
                dangling = True
        if dangling:
            continue
        if edge.source == edge.target:
            report.errors.append(Issue("cycle", f"cycle: {edge.source} -> {edge.target}", path, edge.source))
            continue
        if (edge.source, edge.target) in seen_edges:
            report.errors.append(Issue("duplicate_edge", f"{edge.source} -> {edge.target} appears twice", path,
                                       edge.source))
            continue
        seen_edges.add((edge.source, edge.target))
        children[edge.source].append(edge.target)
        parents[edge.target].append(edge.source)
        out_edges[edge.source].append((index, edge))

    triggers = [node_id for node_id, kind in kinds.items() if (spec := get_spec(kind)) and spec.role == "trigger"]
    if not triggers:
        report.errors.append(Issue("missing_trigger", "add an `upload` or `event` trigger node", "nodes"))
    elif len(triggers) > 1:
        report.errors.append(Issue("multiple_triggers", f"one trigger per workflow, found {', '.join(triggers)}",
                                   "nodes", triggers[1]))
    if len(triggers) == 1 and kinds[triggers[0]] == "event":
        without_media = _reached_without_media(triggers[0], children, kinds)
        for node_id, kind in kinds.items():
            spec = get_spec(kind)
            if spec is not None and spec.needs_media and node_id in without_media:
                report.errors.append(Issue(
                    "needs_media", f"`{node_id}` ({spec.kind}) works on media, and a run started by an event "
                    "has none: use an `upload` trigger, an `import_url` node before it, or nodes that need no "
                    "media (transform, notify, webhook, condition, branch, validate)",
                    _node_path(definition, node_id), node_id))
    for trigger in triggers:
        if parents.get(trigger):
            report.errors.append(Issue("trigger_has_input", "a trigger cannot have incoming edges",
                                       _node_path(definition, trigger), trigger))

    for node_id, edges in out_edges.items():
        kind = kinds[node_id]
        path = _node_path(definition, node_id)
        if kind == "branch":
            labels = sorted(str(edge.kind) for _, edge in edges)
            if labels != ["false", "true"]:
                report.errors.append(Issue("branch_edges", "a branch needs exactly one `true` and one `false` "
                                           f"edge, found {labels}", path, node_id))
        else:
            for index, edge in edges:
                if edge.kind is not None:
                    report.errors.append(Issue("edge_kind", "only edges out of a branch carry `kind`",
                                               f"edges[{index}].kind", node_id))
        if len(edges) > LIMITS.max_fan_out:
            report.errors.append(Issue("limit_exceeded", f"fan-out {len(edges)}: at most {LIMITS.max_fan_out}",
                                       path, node_id))
    for node_id, kind in kinds.items():
        if kind == "branch" and node_id not in out_edges:
            report.errors.append(Issue("branch_edges", "a branch needs a `true` and a `false` edge",
                                       _node_path(definition, node_id), node_id))
        if kind == "branch" and not ids[node_id].config.get("conditions"):
            report.errors.append(Issue("missing", "a branch needs conditions",
                                       f"{_node_path(definition, node_id)}.config.conditions", node_id))
        if kind == "condition" and node_id not in out_edges:
            report.warnings.append(Issue("dead_end", "nothing follows this condition",
                                         _node_path(definition, node_id), node_id, "warning"))

    order = [node.id for node in definition.nodes]
    cycle = _find_cycle(children, order)
    if cycle:
        report.errors.append(Issue("cycle", "cycle: " + " -> ".join(cycle), _node_path(definition, cycle[0]),
                                   cycle[0]))
        return
    if len(triggers) == 1:
        reachable = {triggers[0]}
        frontier = [triggers[0]]
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in reachable:
                    reachable.add(child)
                    frontier.append(child)
        for node_id in order:
            if node_id not in reachable:
                report.errors.append(Issue("unreachable", f"not reachable from the trigger `{triggers[0]}`",
                                           _node_path(definition, node_id), node_id))
        depth, expanded = _depth_and_expansion(triggers[0], children)
        if depth > LIMITS.max_depth:
            report.errors.append(Issue("limit_exceeded", f"path of {depth} nodes: at most {LIMITS.max_depth}",
                                       "edges"))
        if expanded > LIMITS.max_expanded_tasks:
            report.errors.append(Issue("limit_exceeded", f"joins expand to {expanded} steps: at most "
                                       f"{LIMITS.max_expanded_tasks}", "edges"))
    long_kinds = sorted({kind for kind in kinds.values() if (spec := get_spec(kind))
                         and RUNTIMES[spec.runtime].long_running})
    if definition.settings.execution_type == "express" and long_kinds:
        report.errors.append(Issue("express_too_short", "express runs stop after 5 minutes; "
                                   f"{', '.join(long_kinds)} may run longer: use standard or auto",
                                   "settings.executionType"))


def _node_path(definition: WorkflowDefinition, node_id: str) -> str:
    for index, node in enumerate(definition.nodes):
        if node.id == node_id:
            return f"nodes[{index}]"
    return "nodes"


def _depth_and_expansion(root: str, children: dict[str, list[str]]) -> tuple[int, int]:
    """Longest path (in nodes) and the number of node visits once joins are expanded into a tree."""
    order: list[str] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(children.get(node, []))
    depth: dict[str, int] = {}
    size: dict[str, int] = {}
    for node in _topological(root, children)[::-1]:
        kids = children.get(node, [])
        depth[node] = 1 + max((depth[k] for k in kids), default=0)
        size[node] = min(1 + sum(size[k] for k in kids), 10**9)
    return depth.get(root, 1), size.get(root, 1)


def _topological(root: str, children: dict[str, list[str]]) -> list[str]:
    result: list[str] = []
    state: dict[str, int] = {}
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            result.append(node)
            continue
        if state.get(node):
            continue
        state[node] = 1
        stack.append((node, True))
        stack.extend((child, False) for child in children.get(node, []) if not state.get(child))
    return result[::-1]

"""Who may see a workflow, and its deployment: deploy, undeploy, stop, start, lifecycle policy, discovery,
layout and scopes. Strongly.ai's Kubernetes operations with their serverless meanings (docs/compat.md):

- deploy: status ``active``; the save hook compiles and publishes the state machine and moves its ``live``
  alias (AWS), so every trigger of the workflow may start runs;
- undeploy: status ``draft``: no trigger starts a run (the published versions stay; they cost nothing at rest);
- stop / start: the workflow's triggers off / on (``deploymentStatus``), the state machine untouched;
- lifecycle: the policy the triggers apply when they fire (mediaflow.lifecycle).

Visibility: a workflow created through `/api/v1` has an owner (the API key that created it). It is visible to
the keys of its tenant it is shared with: the owner and the shared keys, or every key once ``isPublic``.
Workflows without an owner (created through `/v1`) stay visible to every key of the tenant.
"""

from __future__ import annotations

from typing import Any

from mediaflow import layout, lifecycle, mappings, scopes
from mediaflow.api.context import ApiContext
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import Principal
from mediaflow.api.workflows import WorkflowService
from mediaflow.clock import now_iso
from mediaflow.errors import Conflict, NotFound


def visible(record: dict[str, Any], principal: Principal) -> bool:
    owner = record.get("ownerId")
    if not owner or record.get("isPublic") or owner == principal.key_id:
        return True
    return any(share.get("userId") == principal.key_id for share in record.get("shares") or [])


class DeploymentService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.workflows = WorkflowService(ctx)

    # -- access ---------------------------------------------------------------------------------------
    def load(self, principal: Principal, workflow_id: str) -> dict[str, Any]:
        """The stored record when this key may see it; another tenant's or an unshared one is not found."""
        record = self.ctx.workflows.get(principal.tenant, workflow_id)
        if not visible(record, principal):
            raise NotFound(f"workflow {workflow_id!r} not found")
        return record

    def last_run_at(self, tenant: str, workflow_id: str) -> str | None:
        latest = self.ctx.runs.list_runs(tenant, workflow_id, limit=1)
        return str(latest[0]["createdAt"]) if latest else None

    def visible_page(self, principal: Principal, *, status: str | None, tag: str | None, search: str | None,
                     sort: str, limit: int, offset: int) -> tuple[int, list[tuple[dict[str, Any], str | None]]]:
        """(how many this key may see, one page of ``(record, last run time)``), filtered and sorted as /v1."""
        listed = self.workflows.list(principal.tenant, status=status, tag=tag, search=search, sort=sort,
                                     limit=1000, offset=0, cursor=None)["workflows"]
        stored = {r["id"]: r for r in self.ctx.workflows.list(principal.tenant, limit=1000)}
        mine = [stored[w["id"]] for w in listed if w["id"] in stored and visible(stored[w["id"]], principal)]
        return len(mine), [(r, self.last_run_at(principal.tenant, r["id"])) for r in mine[offset:offset + limit]]

    def _set(self, principal: Principal, workflow_id: str, changes: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self.load(principal, workflow_id)
        return self.workflows.update(principal.tenant, workflow_id, changes or {}, extra=extra)

    # -- sharing --------------------------------------------------------------------------------------
    def shares(self, principal: Principal, workflow_id: str) -> list[dict[str, Any]]:
        return list(self.load(principal, workflow_id).get("shares") or [])

    def share(self, principal: Principal, workflow_id: str, user_id: str) -> None:
        record = self.load(principal, workflow_id)
        shares = list(record.get("shares") or [])
        if user_id != record.get("ownerId") and all(s.get("userId") != user_id for s in shares):
            shares.append({"userId": user_id, "sharedAt": now_iso(timespec="seconds")})
            self.workflows.update(principal.tenant, workflow_id, {}, extra={"shares": shares})

    def unshare(self, principal: Principal, workflow_id: str, user_id: str) -> None:
        record = self.load(principal, workflow_id)
        shares = [s for s in record.get("shares") or [] if s.get("userId") != user_id]
        if len(shares) == len(record.get("shares") or []):
            raise NotFound(f"workflow {workflow_id!r} is not shared with {user_id!r}", field="subId")
        self.workflows.update(principal.tenant, workflow_id, {}, extra={"shares": shares})

    # -- deployment -----------------------------------------------------------------------------------
    def deploy(self, principal: Principal, workflow_id: str) -> dict[str, Any]:
        return self._set(principal, workflow_id, {"status": "active"},
                         {"deploymentStatus": "running", "stoppedReason": None})

    def undeploy(self, principal: Principal, workflow_id: str) -> dict[str, Any]:
        # The published state-machine versions stay: they cost nothing at rest, executions in flight finish on
        # them, and warm triggers keep the machines they found (mediaflow.cloud.cached).
        return self._set(principal, workflow_id, {"status": "draft"}, {"deploymentStatus": None, "stoppedReason": None})

    def stop(self, principal: Principal, workflow_id: str) -> dict[str, Any]:
        if self.load(principal, workflow_id).get("status") != "active":
            raise Conflict("only a deployed (active) workflow can be stopped; deploy it first", field="status")
        return self._set(principal, workflow_id, extra={"deploymentStatus": "stopped", "stoppedReason": "manual"})

    def start(self, principal: Principal, workflow_id: str, replicas: int) -> dict[str, Any]:
        if self.load(principal, workflow_id).get("status") != "active":
            raise Conflict("only a deployed (active) workflow can be started; deploy it first", field="status")
        return self._set(principal, workflow_id,
                         extra={"deploymentStatus": "running", "stoppedReason": None, "replicas": replicas})

    def set_lifecycle(self, principal: Principal, workflow_id: str, policy: lifecycle.Policy) -> dict[str, Any]:
        return self._set(principal, workflow_id, extra={"lifecycle": policy.view()})

    def admit(self, tenant: str, record: dict[str, Any]) -> None:
        """Apply the lifecycle gate for a trigger firing now: 409 with the reason when nothing may start."""
        latest = self.ctx.runs.list_runs(tenant, record["id"], limit=1)
        last = latest[0]["createdAt"] if latest else str(record.get("updatedAt") or "")
        allowed, reason, changes = lifecycle.gate(record, last_run_at=last or None)
        if changes:
            self.workflows.update(tenant, record["id"], {}, extra=changes)
        if not allowed:
            raise ApiProblem(409, reason or "the workflow's triggers are off", code="TriggerRefused",
                             errors=[{"field": "status", "path": "status", "message": reason}])

    def discover(self, principal: Principal, app_id: str, base: str) -> list[dict[str, Any]]:
        label = f"app:{app_id}"
        found = []
        for record in self.ctx.workflows.list(principal.tenant, status="active", limit=1000):
            if not visible(record, principal) or (label not in (record.get("tags") or [])
                                                  and (record.get("config") or {}).get("appId") != app_id):
                continue
            found.append(record)
        return found

    def deployment_view(self, record: dict[str, Any]) -> dict[str, Any]:
        """``{deploymentStatus, lifecyclePolicy, stoppedReason, runtime}`` of a stored workflow."""
        return {"deploymentStatus": lifecycle.deployment_status(record),
                "lifecyclePolicy": lifecycle.policy_of(record).view(), "stoppedReason": record.get("stoppedReason"),
                "runtime": self.ctx.mode}

    def put_lifecycle(self, principal: Principal, workflow_id: str, raw: dict[str, Any]) -> dict[str, Any]:
        policy = lifecycle.Policy.model_validate(raw)
        self.set_lifecycle(principal, workflow_id, policy)
        return policy.view()

    def new_shares(self, user_ids: list[str]) -> list[dict[str, Any]]:
        shared_at = now_iso(timespec="seconds")
        return [{"userId": str(user_id), "sharedAt": shared_at} for user_id in dict.fromkeys(user_ids)]

    # -- editing helpers ------------------------------------------------------------------------------
    def add_node(self, principal: Principal, workflow_id: str, node: dict[str, Any]) -> dict[str, Any]:
        """Add a node; without a position it goes one column right of the rightmost node."""
        definition = self.load(principal, workflow_id)["definition"]
        placed = {**node, "position": node.get("position") or layout.next_position(definition.get("nodes", []))}
        return self.workflows.add_node(principal.tenant, workflow_id, placed, None, None)

    def set_node_field(self, principal: Principal, workflow_id: str, node_id: str, field: str,
                       value: dict[str, Any]) -> None:
        """Set a node's ``inputMappings`` or ``passThroughValues`` (422 naming the entry that cannot work)."""
        definition = self.load(principal, workflow_id)["definition"]
        nodes = [dict(n) for n in definition.get("nodes", [])]
        target = next((n for n in nodes if n["id"] == node_id), None)
        if target is None:
            raise NotFound(f"node {node_id!r} not found", node_id=node_id)
        mapping = field == "inputMappings"
        problems = mappings.mapping_problems(target["kind"], value) if mapping else mappings.passthrough_problems(value)
        if problems:
            where = f"{'mappings' if mapping else 'values'}.{problems[0][0]}"
            raise ApiProblem(422, f"{where}: {problems[0][1]}", code="RequestValidation",
                             errors=[{"field": where, "path": where, "message": problems[0][1]}])
        target[field] = value
        self.workflows.update(principal.tenant, workflow_id, {}, definition={**definition, "nodes": nodes})

    def layout(self, principal: Principal, workflow_id: str) -> tuple[bool, int]:
        definition = self.load(principal, workflow_id)["definition"]
        positions = layout.layered(definition.get("nodes", []), definition.get("edges", []))
        nodes, moved = [], 0
        for node in definition.get("nodes", []):
            wanted = positions[node["id"]]
            current = node.get("position") or {}
            if (float(current.get("x", -1)), float(current.get("y", -1))) != (wanted["x"], wanted["y"]):
                moved += 1
            nodes.append({**node, "position": wanted})
        if moved:
            self.workflows.update(principal.tenant, workflow_id, {}, definition={**definition, "nodes": nodes})
        return moved > 0, moved

    def compute_scopes(self, principal: Principal, workflow_id: str) -> list[str]:
        record = self.load(principal, workflow_id)
        urls: list[str] = []
        if self.ctx.webhooks is not None:
            urls = [str(hook.get("url")) for hook in self.ctx.webhooks.store.list_webhooks(principal.tenant)
                    if hook.get("workflowId") in (None, workflow_id)]
        found = scopes.compute(workflow_id, principal.tenant, record["definition"], urls)
        self.workflows.update(principal.tenant, workflow_id, {}, extra={"scopes": found})
        return found

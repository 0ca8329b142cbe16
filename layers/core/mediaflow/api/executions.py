"""Starting runs from Strongly.ai's entry points, on the run use cases of `/v1` (RunService):

- execute: a test run of the saved workflow or of a ``definition`` given for this run only;
- trigger: a production run through the lifecycle gate; ``sync`` waits for the outcome (bounded);
- email: each media attachment of a parsed inbound email starts a run (the workflow's `email` trigger);
- events: every active workflow whose `event` trigger matches the event type starts a run (no media: the
  run carries the event, as `POST /v1/workflows/events` does);
- enqueue: a message on the workflow's queue (its `queue` trigger) starts one run, exactly once: the run id
  derives from the message id, so a redelivered message finds its run already started.

The media of a run: stored keys named by the inputs (``objectKey``, ``objects`` or ``entityIds``), else the
sample media of `/v1` runs (a generated image), as `POST /v1/workflows/{id}/runs` does without objects.
Inputs reach input mappings and pass-through values (mediaflow.mappings).
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any

from mediaflow.api.context import ApiContext
from mediaflow.api.deployments import DeploymentService, visible
from mediaflow.api.problems import ApiProblem
from mediaflow.api.runs import TERMINAL, RunService, store_bytes
from mediaflow.api.security import Principal
from mediaflow.catalog import get_spec
from mediaflow.errors import Conflict, NotFound
from mediaflow.ids import safe_name
from mediaflow.media import MediaRef
from mediaflow.starts import direct_key
from mediaflow.triggers import run_name

SYNC_WAIT_SECONDS = {"embedded": 300.0, "aws": 25.0}
"""How long `trigger` with ``sync: true`` waits: Strongly's 5 minutes in the embedded server; on AWS, inside
API Gateway's 29-second integration limit (a longer run answers ``running`` with its id)."""


def trigger_node(record: dict[str, Any]) -> dict[str, Any] | None:
    for node in record["definition"].get("nodes", []):
        spec = get_spec(str(node.get("kind")))
        if spec is not None and spec.role == "trigger":
            return dict(node)
    return None


class ExecutionService:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.runs = RunService(ctx)
        self.deployments = DeploymentService(ctx)

    def media_for(self, tenant: str, inputs: dict[str, Any], field: str = "inputs") -> list[MediaRef]:
        keys = inputs.get("objects") or inputs.get("entityIds")
        if keys is None and inputs.get("objectKey") is not None:
            keys = [inputs["objectKey"]]
        if keys is None:
            try:
                return self.runs.sample_media(tenant, "image")
            except ImportError:  # a function without the image toolchain cannot draw the sample
                raise ApiProblem(422, "name the stored media to run on (objectKey or objects)",
                                 code="RequestValidation",
                                 errors=[{"field": f"{field}.objectKey", "path": f"{field}.objectKey",
                                          "message": "required on this deployment"}]) from None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise ApiProblem(422, "name stored media as objectKey (a key) or objects (keys)", code="RequestValidation",
                             errors=[{"field": f"{field}.objects", "path": f"{field}.objects",
                                      "message": "a non-empty array of stored keys"}])
        return self.runs.media_from_keys(tenant, [k if k.startswith(f"{tenant}/") else f"{tenant}/{k.lstrip('/')}"
                                                  for k in keys])

    def execute(self, principal: Principal, workflow_id: str, definition: dict[str, Any] | None,
                inputs: dict[str, Any], base: str) -> str:
        self.deployments.load(principal, workflow_id)
        media = self.media_for(principal.tenant, inputs, "triggerInputs")
        return str(self.runs.start(principal.tenant, workflow_id, media, base, inputs=inputs,
                                   definition=definition)["runId"])

    def trigger(self, principal: Principal, workflow_id: str, inputs: dict[str, Any], sync: bool,
                base: str) -> dict[str, Any]:
        record = self.deployments.load(principal, workflow_id)
        self.deployments.admit(principal.tenant, record)
        media = self.media_for(principal.tenant, inputs)
        run_id = str(self.runs.start(principal.tenant, workflow_id, media, base, inputs=inputs)["runId"])
        if not sync:
            return {"status": "started", "execution_id": run_id, "workflow_id": workflow_id, "output": {}}
        run = self.wait(principal.tenant, run_id, base, SYNC_WAIT_SECONDS.get(self.ctx.mode, 25.0))
        output = {"outputs": run["outputs"], "error": run["error"]} if run["status"] in TERMINAL else {}
        return {"status": run["status"] if run["status"] in TERMINAL else "running", "execution_id": run_id,
                "workflow_id": workflow_id, "output": output}

    def wait(self, tenant: str, run_id: str, base: str, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            run = self.runs.get(tenant, run_id, base)
            if run["status"] in TERMINAL or time.monotonic() >= deadline:
                return run
            time.sleep(0.1)

    def email(self, principal: Principal, workflow_id: str, message: dict[str, Any], base: str) -> list[str]:
        """One run per accepted attachment; the email's envelope is the runs' inputs (``inputs.email``)."""
        from mediaflow.nodes.email import Config

        record = self.deployments.load(principal, workflow_id)
        node = trigger_node(record)
        if node is None or node.get("kind") != "email":
            raise Conflict("the workflow has no email trigger node", field="nodes")
        config = Config.model_validate(node.get("config") or {})
        if not config.accepts_sender(str(message.get("from") or "")):
            raise ApiProblem(403, "the sender is not allowed by the workflow's email trigger", code="SenderRefused",
                             errors=[{"field": "from", "path": "from", "message": "not in allowedSenders"}])
        attachments = message.get("attachments") or []
        if not isinstance(attachments, list) or len(attachments) > config.max_attachments:
            raise ApiProblem(422, f"at most {config.max_attachments} attachments", code="RequestValidation",
                             errors=[{"field": "attachments", "path": "attachments", "message": "too many"}])
        self.deployments.admit(principal.tenant, record)
        envelope = {k: message.get(k) for k in ("from", "to", "subject")}
        batch = uuid.uuid4().hex[:12]
        run_ids = []
        for index, attachment in enumerate(attachments):
            media = self._attachment(principal.tenant, batch, index, attachment)
            if media.media_type not in config.media_types:
                continue
            started = self.runs.start(principal.tenant, workflow_id, [media], base, inputs={"email": envelope})
            run_ids.append(str(started["runId"]))
        return run_ids

    def _attachment(self, tenant: str, batch: str, index: int, attachment: Any) -> MediaRef:
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            raise ApiProblem(422, f"{where} is not an object", code="RequestValidation",
                             errors=[{"field": where, "path": where, "message": "an object"}])
        content = attachment.get("content") or attachment.get("data") or attachment.get("contentBase64")
        try:
            data = base64.b64decode(str(content or ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            raise ApiProblem(422, f"{where}.content must hold the file in base64", code="RequestValidation",
                             errors=[{"field": f"{where}.content", "path": f"{where}.content",
                                      "message": "base64 file content"}])
        name = safe_name(str(attachment.get("filename") or attachment.get("name") or f"attachment-{index}"))
        declared = attachment.get("contentType") or attachment.get("content_type") or attachment.get("type")
        return store_bytes(self.ctx, direct_key(tenant, "email", batch, f"{index}-{name}"), data,
                           str(declared) if declared else None)

    def fire_event(self, principal: Principal, event_type: str, data: dict[str, Any], source: str
                   ) -> list[dict[str, Any]]:
        """Every active workflow this key may see whose `event` trigger matches, through the lifecycle gate,
        started by the event use case of `/v1` (mediaflow.starts); one result per workflow."""
        from mediaflow.ids import new_run_id
        from mediaflow.starts import event_trigger_matches, start_event

        admitted, refused = [], []
        for record in self.ctx.workflows.list(principal.tenant, status="active", limit=1000):
            if not visible(record, principal) or not event_trigger_matches(record, event_type):
                continue
            try:
                self.deployments.admit(principal.tenant, record)
                admitted.append(record)
            except ApiProblem as why:
                refused.append({"workflowId": record["id"], "workflowName": record.get("name"), "error": why.message})
        started = start_event(principal.tenant, event_type, data, source, workflows=admitted,
                              launcher=self.ctx.launcher, new_run_id=new_run_id)
        return started + refused

    # -- queue trigger ---------------------------------------------------------------------------------
    def enqueue(self, principal: Principal, workflow_id: str, message: dict[str, Any], priority: int,
                source: str) -> tuple[str, str]:
        """Store the message on the queue; returns ``(message id, the run id it will start)``."""
        record = self.deployments.load(principal, workflow_id)
        node = trigger_node(record)
        if node is None or node.get("kind") != "queue":
            raise Conflict("the workflow has no queue trigger node", field="nodes")
        if record.get("status") != "active" or record.get("deploymentStatus") == "stopped":
            raise Conflict("the workflow is not deployed and running: deploy or start it first", field="status")
        if self.ctx.queue is None:
            raise ApiProblem(503, "this deployment has no trigger queue (MEDIAFLOW_TRIGGER_QUEUE_URL)",
                             code="QueueUnavailable")
        message_id = str(self.ctx.queue.send(principal.tenant, workflow_id, message, priority=priority,
                                             source=source))
        self.ctx.queue.kick(self.run_queued)
        return message_id, queued_run_id(principal.tenant, workflow_id, message_id)

    def run_queued(self, item: dict[str, Any]) -> str:
        """Start the run of one queued message (idempotent: a second delivery finds the run)."""
        from mediaflow import lifecycle
        from mediaflow.nodes.queue import Config

        tenant, workflow_id = str(item["tenant"]), str(item["workflowId"])
        run_id = queued_run_id(tenant, workflow_id, str(item["messageId"]))
        try:
            self.ctx.runs.get_run(tenant, run_id)
            return run_id
        except NotFound:
            pass
        record = self.ctx.workflows.get(tenant, workflow_id)
        try:
            self.deployments.admit(tenant, record)
        except ApiProblem as refused:
            raise lifecycle.TriggerDeferred(refused.message) from None
        node = trigger_node(record) or {}
        config = Config.model_validate(node.get("config") or {}) if node.get("kind") == "queue" else Config()
        raw = item.get("message")
        message: dict[str, Any] = raw if isinstance(raw, dict) else {}
        key = message.get(config.media_key_field)
        media = self.media_for(tenant, {"objectKey": key} if isinstance(key, str) else {}, "message")
        self.runs.start(tenant, workflow_id, media, "", inputs=message, run_id=run_id)
        return run_id


def queued_run_id(tenant: str, workflow_id: str, message_id: str) -> str:
    return run_name("queue", workflow_id, tenant, message_id)

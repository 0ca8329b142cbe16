"""What a workflow needs, as scope strings (``<resource>:<action>:<target>``), for Strongly's compute-scopes.

- API scopes to run it (``workflows:execute:<id>``);
- object-store prefixes it reads (the tenant's uploads, narrowed by the trigger's prefixes) and writes
  (run outputs, and each ``storage`` node's prefix);
- events it emits (webhook, notify and publish nodes) and the hosts of the tenant's webhooks that receive them;
- AWS services its nodes call (Lambda per runtime, Bedrock for ``ai_generate``, Rekognition for the
  moderation and labels kinds).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mediaflow.catalog import get_spec

SERVICE_SCOPES = {
    "ai_generate": ("aws:bedrock:InvokeModel",),
    "aws_rekognition_moderation": ("aws:rekognition:DetectModerationLabels",),
    "aws_rekognition": ("aws:rekognition:DetectLabels",),
}
EVENT_KINDS = {"webhook": "workflow.completed", "notify": "workflow.notify", "publish": "media.publish"}


def compute(workflow_id: str, tenant: str, definition: dict[str, Any], webhook_urls: list[str]) -> list[str]:
    found: set[str] = {f"workflows:execute:{workflow_id}"}
    prefixes = ((definition.get("trigger") or {}).get("filters") or {}).get("prefixes") or [""]
    found.update(f"storage:read:{tenant}/uploads/{prefix.lstrip('/')}" for prefix in prefixes)
    found.add(f"storage:write:{tenant}/runs/")
    emits = False
    for node in definition.get("nodes", []):
        kind = str(node.get("kind"))
        spec = get_spec(kind)
        config = node.get("config") or {}
        if spec is not None and spec.role != "trigger":
            found.add(f"aws:lambda:InvokeFunction:{spec.runtime}")
        if kind == "storage":
            found.add(f"storage:write:{tenant}/outputs/{str(config.get('prefix') or '').lstrip('/')}")
        if kind in EVENT_KINDS:
            found.add(f"events:emit:{config.get('event') or EVENT_KINDS[kind]}")
            emits = True
        found.update(SERVICE_SCOPES.get(spec.kind if spec else kind, ()))
    found.add("events:emit:workflow.completed")
    found.add("events:emit:workflow.failed")
    if emits or webhook_urls:
        found.update(f"webhooks:deliver:{urlsplit(url).hostname}" for url in webhook_urls if urlsplit(url).hostname)
    return sorted(found)

"""Which active workflows an upload starts, and the deterministic name of the run it starts."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from mediaflow.conditions import evaluate
from mediaflow.definition import Trigger
from mediaflow.media import MediaRef

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def matches(trigger: Trigger, media: MediaRef, relative_key: str) -> bool:
    """Whether an upload (``relative_key`` is the key below the tenant's uploads/ prefix) fires the trigger."""
    if not trigger.on_upload:
        return False
    filters = trigger.filters
    if filters.media_types and media.media_type not in filters.media_types:
        return False
    if filters.prefixes and not any(relative_key.startswith(prefix.lstrip("/")) for prefix in filters.prefixes):
        return False
    if filters.content_types and not any(
        fnmatch.fnmatchcase(media.content_type, pattern) for pattern in filters.content_types
    ):
        return False
    for key, value in filters.metadata.items():
        if media.metadata.get(key) != value:
            return False
    return filters.conditions is None or evaluate(filters.conditions, media.to_state())


def run_name(*parts: Any) -> str:
    """A deterministic, Step Functions-safe execution name (at most 80 characters).

    The same S3 event (bucket, key, version, sequencer) and workflow version always give the same name,
    so a duplicated event starts exactly one run.
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    hint = _NAME_UNSAFE.sub("-", str(parts[1]) if len(parts) > 1 else "run")[-40:].strip("-") or "run"
    return f"{hint}-{digest}"[-80:]


def matching_workflows(workflows: Iterable[dict[str, Any]], media: MediaRef, relative_key: str) -> list[dict[str, Any]]:
    """Active workflows (stored records with a canonical ``definition``) whose trigger fires for this upload."""
    selected = []
    for workflow in workflows:
        if workflow.get("status") != "active" or not _starts_on_upload(workflow):
            continue
        trigger = Trigger.model_validate(workflow.get("definition", {}).get("trigger", {}))
        if matches(trigger, media, relative_key):
            selected.append(workflow)
    return selected


def _starts_on_upload(workflow: dict[str, Any]) -> bool:
    """Whether the workflow's trigger node is an ``upload`` one (an ``event`` workflow never runs on uploads)."""
    kinds = {node.get("kind") for node in workflow.get("definition", {}).get("nodes", [])}
    return "event" not in kinds

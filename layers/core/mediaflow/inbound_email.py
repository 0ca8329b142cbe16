"""Inbound email received by Amazon SES and stored in S3 (raw MIME), turned into the parsed shape of
`POST /api/v1/workflows/{id}/email-trigger` (the shape SendGrid, SES and Mailgun parsers post).

Mail reaches a workflow at ``<workflowId>+<tenant>@<InboundEmailDomain>``; SES stores it under
``inbound-email/`` in the uploads bucket and the trigger function starts one run per media attachment.
"""

from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

PREFIX = "inbound-email/"
MAX_ATTACHMENTS = 100


def parse_mime(raw: bytes) -> dict[str, Any]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments: list[dict[str, str]] = []
    for part in message.iter_attachments():
        if len(attachments) >= MAX_ATTACHMENTS:
            break
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        attachments.append({"filename": part.get_filename() or "attachment", "contentType": part.get_content_type(),
                            "content": base64.b64encode(payload).decode()})
    return {"from": str(message.get("From") or ""), "to": str(message.get("To") or ""),
            "subject": str(message.get("Subject") or ""),
            "body_text": text.get_content() if text is not None else "",
            "body_html": html.get_content() if html is not None else "",
            "attachments": attachments,
            "recipients": [address for _, address in getaddresses(
                [str(message.get(h) or "") for h in ("To", "Cc", "Delivered-To", "X-Original-To")]) if address]}


def route(address: str, domain: str) -> tuple[str, str] | None:
    """``(tenant, workflowId)`` of ``<workflowId>+<tenant>@<domain>``; None for any other address."""
    local, _, host = address.strip().rpartition("@")
    if not domain or host.lower() != domain.lower() or "+" not in local:
        return None
    workflow_id, _, tenant = local.partition("+")
    return (tenant, workflow_id) if tenant and workflow_id else None

"""Identifiers, safe names and secrets, the same on every deployment."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from pathlib import Path

API_KEY_PREFIX = "mf_"
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]+")


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:20]}"


def safe_name(name: str, fallback: str = "file") -> str:
    """The last component of ``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced."""
    cleaned = _UNSAFE.sub("-", Path(name).name).strip(".-")[:180]
    return cleaned or fallback


def new_api_key(key_id: str) -> str:
    return f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_api_key(api_key: str) -> str:
    """What the key stores keep of an API key (the key itself is shown once)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

"""Identifiers, safe names and secrets, the same on every deployment."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
import uuid
from pathlib import Path

API_KEY_PREFIX = "mf_"
_REPLACED = re.compile("\0+")
_KEPT_PUNCTUATION = frozenset("._-")
SAFE_NAME_BYTES = 180


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:20]}"


def safe_name(name: str, fallback: str = "file") -> str:
    """The last component of ``name`` (in Unicode's composed form, as macOS gives decomposed names) with runs of
    anything but letters, marks and digits of any script, ``.``, ``_`` and ``-`` replaced by one ``-``: "été
    1.jpg" is "été-1.jpg", "写真.jpg" stays, "my photo (1).jpg" is "my-photo-1.jpg". A stem left empty is
    ``fallback`` ("😀.png" is "file.png"). At most ``SAFE_NAME_BYTES`` bytes of UTF-8 (a file system allows
    255), the extension kept when the stem is cut."""
    text = unicodedata.normalize("NFC", Path(name).name)
    stem, dot, extension = text.rpartition(".")
    extension = _cleaned(extension)
    if not dot or not stem or not extension or len(extension) > 16:
        stem, extension = text, ""
    stem = _cleaned(stem)
    suffix = f".{extension}" if extension else ""
    if len((stem + suffix).encode()) > SAFE_NAME_BYTES:
        stem = _cleaned(stem.encode()[:SAFE_NAME_BYTES - len(suffix.encode())].decode(errors="ignore"))
    return (stem or fallback) + suffix


def _cleaned(text: str) -> str:
    kept = "".join(ch if ch in _KEPT_PUNCTUATION or unicodedata.category(ch)[0] in "LMN" else "\0" for ch in text)
    return _REPLACED.sub("-", kept).strip(".-")


def new_api_key(key_id: str) -> str:
    return f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_api_key(api_key: str) -> str:
    """What the key stores keep of an API key (the key itself is shown once)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

"""Profiles saved by `mediaflow login`: API URL and key per name, in ``<config dir>/mediaflow/profiles.json``
(user-only permissions), and the rule that picks the target of a remote command."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaflow.settings import DEFAULT_PROFILE, client_settings

__all__ = ["DEFAULT_PROFILE", "Target", "load_profiles", "resolve_target", "save_profile"]


def config_dir() -> Path:
    """``MEDIAFLOW_CONFIG_DIR``, else the platform's user config folder plus ``mediaflow``."""
    configured = client_settings().config_dir
    if configured is not None:
        return configured
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "mediaflow"


def profiles_path() -> Path:
    return config_dir() / "profiles.json"


def load_profiles() -> dict[str, dict[str, Any]]:
    path = profiles_path()
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def save_profile(name: str, api_url: str, api_key: str) -> Path:
    """Write (or replace) one profile; the file is created readable by its owner only."""
    profiles = load_profiles()
    profiles[name] = {"api": api_url.rstrip("/"), "key": api_key}
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".profiles.{os.getpid()}.json")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(profiles, handle, indent=2)
    partial.replace(path)
    return path


def remove_profile(name: str) -> bool:
    profiles = load_profiles()
    if profiles.pop(name, None) is None:
        return False
    path = profiles_path()
    path.write_text(json.dumps(profiles, indent=2), encoding="utf-8")
    return True


@dataclass(frozen=True)
class Target:
    api_url: str
    api_key: str | None
    source: str  # where the URL came from, for messages


def resolve_target(api: str | None = None, key: str | None = None, profile: str | None = None) -> Target | None:
    """The API a command talks to, or None for the local data dir.

    URL: ``--api``, else ``MEDIAFLOW_API_URL``, else the URL of ``--profile`` / ``MEDIAFLOW_PROFILE``.
    Key: ``--key``, else ``MEDIAFLOW_API_KEY``, else the chosen profile's key, else the key of the profile
    saved for that URL."""
    settings = client_settings()
    profiles = load_profiles()
    profile_name = profile or settings.profile
    chosen = profiles.get(profile_name) if profile_name else None
    if profile_name and chosen is None:
        raise LookupError(f"no profile {profile_name!r} in {profiles_path()} (run `mediaflow login`)")
    url, source = api, "--api"
    if not url and settings.api_url:
        url, source = settings.api_url, "MEDIAFLOW_API_URL"
    if not url and chosen is not None:
        url, source = str(chosen["api"]), f"profile {profile_name}"
    if not url:
        return None
    url = url.rstrip("/")
    secret = key or settings.api_key
    if not secret and chosen is not None:
        secret = str(chosen.get("key") or "") or None
    if not secret:
        same = [p for p in profiles.values() if str(p.get("api", "")).rstrip("/") == url]
        secret = str(same[0].get("key") or "") or None if same else None
    return Target(url, secret, source)

"""Compiled plans kept by the content of the workflow file they came from, as Python keeps bytecode (ADR 0010).

``mediaflow run WORKFLOW_FILE`` validates and compiles the file; the plan (the state machine, its Tasks, the
workflow's id and version, whether it begins on media) is then written under the user's cache folder, named by a
digest of the file's bytes and of mediaflow's code. The next command on the same bytes,
with the same code, reads the plan back and neither validates nor compiles: its start loads no validator, compiler
or pydantic. Any other bytes, any change to that code (or to Python's version), a plan that cannot be read: the
file is validated and compiled as the first time. ``MEDIAFLOW_PLAN_CACHE`` names another folder, or ``off``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mediaflow.compiled import Compiled, CompiledTask
from mediaflow.settings import Settings

FORMAT = 1
_PACKAGE = Path(__file__).resolve().parents[1]
_NOT_CODE = frozenset({"__pycache__", "dashboard_dist"})


@dataclass
class KeptPlan:
    compiled: Compiled
    meta: dict[str, Any]
    begins_on_media: bool


def folder(settings: Settings) -> Path | None:
    """Where plans are kept; None when ``MEDIAFLOW_PLAN_CACHE`` turns them off."""
    chosen = settings.plan_cache
    if chosen.lower() in ("off", "0", "false", "no"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mediaflow" / "plans"


def _code_digest() -> str:
    """Every module of the package as its file says (size, modification time) and Python's version: a plan is
    read back only by the code that made it (0.6 ms of stat calls; a hash of the bytes would take longer)."""
    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}".encode())
    for module in _modules(str(_PACKAGE)):
        stat = module.stat()
        digest.update(f"\0{module.path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _modules(folder: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as listed:
        entries = sorted(listed, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir() and entry.name not in _NOT_CODE:
            yield from _modules(entry.path)
        elif entry.name.endswith(".py"):
            yield entry


def _path(source: bytes, where: Path) -> Path:
    digest = hashlib.sha256(source)
    digest.update(_code_digest().encode())
    return where / f"{digest.hexdigest()[:40]}.json"


def load(source: bytes, settings: Settings) -> KeptPlan | None:
    """The plan kept for a workflow file of these bytes by this code, if any."""
    where = folder(settings)
    if where is None:
        return None
    try:
        kept = json.loads(_path(source, where).read_bytes())
        tasks = [CompiledTask(**{**task, "node_ids": tuple(task["node_ids"]), "kinds": tuple(task["kinds"])})
                 for task in kept["tasks"]]
        compiled = Compiled(asl=kept["asl"], execution_type=kept["execution_type"], tasks=tasks)
        return KeptPlan(compiled, dict(kept["meta"]), bool(kept["begins_on_media"]))
    except (OSError, ValueError, KeyError, TypeError):  # none kept, or not one this code can read: compile
        return None


def keep(source: bytes, settings: Settings, compiled: Compiled, meta: dict[str, Any], begins_on_media: bool) -> None:
    """Keep the plan of a workflow file of these bytes; a folder that cannot be written only costs the next
    command its validation."""
    where = folder(settings)
    if where is None or compiled.batch is not None:
        return
    document = {"format": FORMAT, "asl": compiled.asl, "execution_type": compiled.execution_type,
                "tasks": [asdict(task) for task in compiled.tasks], "meta": meta, "begins_on_media": begins_on_media}
    try:
        where.mkdir(parents=True, exist_ok=True)
        target = _path(source, where)
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        temporary.replace(target)  # a reader sees the whole plan or none
    except OSError:
        pass

"""In-memory fakes of the ports (ports.py), for fast tests of the use cases: no folder, no SQLite, no moto.

They keep the rules the contract suite (tests/functional/test_port_contracts.py) checks on the real adapters
where a use case depends on them: create-only writes conflict, a run finishes once, a claimed key conflicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediaflow.clock import now_iso
from mediaflow.compiler import Compiled
from mediaflow.errors import Conflict, NotFound
from mediaflow.media import MediaRef, media_type_of, validate_key
from mediaflow.ports import TERMINAL_RUN_STATUSES, check_run_status, new_run_identity


class FakeBlobStore:
    bucket = "fake"

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def _ref(self, key: str) -> MediaRef:
        data, content_type = self.objects[key]
        return MediaRef(bucket=self.bucket, key=key, content_type=content_type, size=len(data),
                        etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                        media_type=media_type_of(content_type), filename=key.rsplit("/", 1)[-1])

    def put_bytes(self, key: str, data: bytes, content_type: str, *, overwrite: bool = True) -> MediaRef:
        validate_key(key)
        if not overwrite and key in self.objects:
            raise Conflict(f"object {key!r} already exists and is never overwritten", field="key")
        self.objects[key] = (data, content_type)
        return self._ref(key)

    def put_file(self, key: str, path: Path, content_type: str, *, overwrite: bool = True,
                 move: bool = False) -> MediaRef:
        return self.put_bytes(key, Path(path).read_bytes(), content_type, overwrite=overwrite)

    def download(self, key: str, path: Path) -> Path:
        data, _ = self._existing(key)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        return Path(path)

    def _existing(self, key: str) -> tuple[bytes, str]:
        if key not in self.objects:
            raise NotFound(f"no object {key!r}", field="key")
        return self.objects[key]

    def read_range(self, key: str, start: int, length: int) -> bytes:
        return self._existing(key)[0][start:start + length]

    def read_head(self, key: str, length: int) -> tuple[MediaRef, bytes]:
        return self.head(key), self.read_range(key, 0, length)

    def head(self, key: str) -> MediaRef:
        self._existing(key)
        return self._ref(key)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        return f"memory://{self.bucket}/{key}"

    def copy(self, source_key: str, key: str, *, content_type: str | None = None,
             overwrite: bool = True) -> MediaRef:
        data, source_type = self._existing(source_key)
        return self.put_bytes(key, data, content_type or source_type, overwrite=overwrite)

    def local_path(self, key: str) -> Path | None:
        return None

    def sweep_unfinished(self, prefix: str) -> int:
        return 0

    def presigned_post(self, key: str, *, content_type: str | None, expires_seconds: int, max_bytes: int,
                       fields: dict[str, str] | None = None) -> dict[str, Any] | None:
        return None


class FakeWorkflowStore:
    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        for record in records or []:
            self.put(str(record["tenant"]), record)

    def put(self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None) -> dict[str, Any]:
        current = self.records.get((tenant, workflow["id"]))
        version = current["version"] if current else 0
        if expected_version is not None and expected_version != version:
            raise Conflict(f"workflow {workflow['id']!r} is at version {version}", field="version")
        stamp = now_iso()
        record = {"status": "active", **workflow, "tenant": tenant, "version": version + 1,
                  "createdAt": current["createdAt"] if current else stamp, "updatedAt": stamp}
        self.records[(tenant, workflow["id"])] = record
        return record

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        try:
            return self.records[(tenant, workflow_id)]
        except KeyError:
            raise NotFound(f"no workflow {workflow_id!r}", field="workflowId") from None

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]:
        return [r for (owner, _), r in sorted(self.records.items()) if owner == tenant
                and all(r.get(name) == value for name, value in filters.items())]

    def delete(self, tenant: str, workflow_id: str) -> None:
        self.get(tenant, workflow_id)
        del self.records[(tenant, workflow_id)]


class FakeRunStore:
    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.recorded: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def create_run(self, run: dict[str, Any]) -> dict[str, Any]:
        tenant, run_id, workflow_id, status = new_run_identity(run)
        if (tenant, run_id) in self.runs:
            raise Conflict(f"run {run_id!r} already exists", field="runId")
        stamp = now_iso()
        record = {"version": 1, **run, "tenant": tenant, "runId": run_id, "workflowId": workflow_id,
                  "status": status, "createdAt": stamp, "updatedAt": stamp}
        self.runs[(tenant, run_id)] = record
        return dict(record)

    def update_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any]:
        if "status" in fields:
            check_run_status(fields["status"])
        record = self._run(tenant, run_id)
        record.update(fields, updatedAt=now_iso())
        return dict(record)

    def update_run_if(self, tenant: str, run_id: str, statuses: frozenset[str] | set[str],
                      **fields: Any) -> dict[str, Any] | None:
        if self._run(tenant, run_id)["status"] not in statuses:
            return None
        return self.update_run(tenant, run_id, **fields)

    def finish_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any] | None:
        return self.update_run_if(tenant, run_id, {"pending", "running"}, **fields)

    def _run(self, tenant: str, run_id: str) -> dict[str, Any]:
        try:
            return self.runs[(tenant, run_id)]
        except KeyError:
            raise NotFound(f"no run {run_id!r}", field="runId") from None

    def get_run(self, tenant: str, run_id: str) -> dict[str, Any]:
        return dict(self._run(tenant, run_id))

    def run_and_steps(self, tenant: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.get_run(tenant, run_id), self.steps(tenant, run_id)

    def list_runs(self, tenant: str, workflow_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[dict[str, Any]]:
        mine = [dict(r) for (owner, _), r in self.runs.items() if owner == tenant
                and workflow_id in (None, r["workflowId"])]
        return list(reversed(mine))[offset:offset + limit]

    def count_runs(self, tenant: str, workflow_id: str | None = None) -> int:
        return len(self.list_runs(tenant, workflow_id, limit=len(self.runs)))

    def record_step(self, tenant: str, run_id: str, step: dict[str, Any]) -> None:
        self.recorded.setdefault((tenant, run_id), []).append(dict(step))

    def steps(self, tenant: str, run_id: str) -> list[dict[str, Any]]:
        self._run(tenant, run_id)
        return list(self.recorded.get((tenant, run_id), []))


class FakeEventBus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.events if kind == detail_type]


class FakeIdempotency:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any] | None] = {}

    def claim(self, key: str, ttl_seconds: int = 3600) -> dict[str, Any] | None:
        if key in self.results:
            result = self.results[key]
            if result is None:
                raise Conflict(f"{key!r} is being processed", field="key")
            return result
        self.results[key] = None
        return None

    def complete(self, key: str, result: dict[str, Any], ttl_seconds: int = 3600) -> None:
        self.results[key] = result

    def release(self, key: str) -> None:
        self.results.pop(key, None)


class FakeLauncher:
    """Records what it was asked to start; a run id it has seen is not started again (as both launchers)."""

    def __init__(self, runs: FakeRunStore | None = None, *, refuse: str | None = None) -> None:
        self.runs = runs or FakeRunStore()
        self.started: list[dict[str, Any]] = []
        self.refuse = refuse

    def check(self, compiled: Compiled) -> None:
        if self.refuse and any(self.refuse in task.kinds for task in compiled.tasks):
            raise ValueError(f"no worker for {self.refuse}")

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> dict[str, Any]:
        run = execution_input["run"]
        try:
            self.runs.create_run({"tenant": tenant, "runId": run_id, "workflowId": run["workflowId"],
                                  "version": run["version"], "input": execution_input})
        except Conflict:
            return {"runId": run_id, "started": False}
        self.started.append({"tenant": tenant, "runId": run_id, "input": execution_input,
                             "machineType": machine_type})
        return {"runId": run_id, "started": True}

    def cancel(self, tenant: str, run_id: str) -> bool:
        return self.runs.update_run_if(tenant, run_id, {"pending", "running"}, status="cancelled") is not None

    def redrive(self, tenant: str, run_id: str) -> bool:
        run = self.runs.get_run(tenant, run_id)
        if run["status"] not in TERMINAL_RUN_STATUSES - {"completed"}:
            return False
        self.runs.update_run(tenant, run_id, status="pending", error=None)
        return True

"""Reads the upload trigger repeats for every upload, kept for a few seconds in a warm container.

At volume the trigger would otherwise query a tenant's active workflows and look up the deployed machine
of each once per upload: the same item collection read thousands of times a second (docs/scale.md). A
workflow activated, paused or edited is seen by a warm trigger within ``trigger_cache_seconds``; a
deployed machine (keyed by the digest of its definition) never changes, so it is kept for the container's
life once found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from mediaflow.ports import MachineRegistry, WorkflowStore


class WorkflowsAndMachines(WorkflowStore, MachineRegistry, Protocol):
    """The deployment's workflows table, which also records the deployed machine of each definition."""


class CachedWorkflowReads(MachineRegistry):
    """A workflow store whose active-workflow lists and machine lookups are served from memory."""

    def __init__(self, workflows: WorkflowsAndMachines, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._workflows = workflows
        self._ttl = ttl_seconds
        self._clock = clock
        self._active: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._machines: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]:
        if filters != {"status": "active"} or self._ttl <= 0:
            listed: list[dict[str, Any]] = self._workflows.list(tenant, **filters)
            return listed
        now = self._clock()
        with self._lock:
            cached = self._active.get(tenant)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        fresh: list[dict[str, Any]] = self._workflows.list(tenant, **filters)
        with self._lock:
            self._active[tenant] = (now, fresh)
        return fresh

    def machine(self, tenant: str, workflow_id: str, digest: str) -> dict[str, Any] | None:
        key = (tenant, workflow_id, digest)
        with self._lock:
            found = self._machines.get(key)
        if found is not None:
            return found
        machine: dict[str, Any] | None = self._workflows.machine(tenant, workflow_id, digest)
        if machine is not None:
            with self._lock:
                self._machines[key] = machine
        return machine

    def record_machine(self, tenant: str, workflow_id: str, digest: str, machine: dict[str, Any]) -> None:
        self._workflows.record_machine(tenant, workflow_id, digest, machine)
        with self._lock:
            self._machines[(tenant, workflow_id, digest)] = machine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._workflows, name)

"""The task contract: what a compiled Task sends, what an op executor is given, and what comes back.

A compiled Task state calls one runtime (vips, ffmpeg, rembg, light) with ``{run, media, ops}``; node
executors receive an :class:`OpContext` (and light executors the :class:`TaskEnvironment`). This module
imports no worker, node or catalog module, so node modules can depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mediaflow.catalog import Runtime
from mediaflow.declared import Field, field_validator
from mediaflow.media import Camel, MediaRef
from mediaflow.ports import BlobStore, EventBus, RunStore, Vision
from mediaflow.settings import Settings, get_settings


class Op(Camel):
    node_id: str
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)


class RunContext(Camel):
    run_id: str
    workflow_id: str = "adhoc"
    tenant: str = "local"
    version: int = 1
    started_at: str = Field(default="", description="ISO time the run started; {timestamp} derives from it")


COMPILED_CONFIGS = 1
"""Marks a Task whose node configs are the compiler's dumps of validated configs (``model_dump(mode="json",
by_alias=True, exclude_none=True)``): what a worker of the same format may read without validating again."""


def no_media() -> MediaRef:
    """The media of a run started by an event: nothing stored (empty key); metadata nodes may annotate it."""
    return MediaRef.trusted({"bucket": "", "key": ""})


class TaskPayload(Camel):
    runtime: Runtime
    run: RunContext
    media: MediaRef = Field(description="In a run started by an event (no media): NO_MEDIA, an empty reference "
                            "that metadata nodes may annotate")
    ops: list[Op] = Field(min_length=1)
    branches: list[list[Op]] = Field(
        default_factory=list, description="Fan-out: after `ops`, each branch's ops run on the same decode")
    item: int | None = Field(default=None, ge=0, description="Index of the item in a batch run (Map)")

    @field_validator("media", mode="before")
    @classmethod
    def _no_media(cls, value: Any) -> Any:
        return no_media() if value is None else value
    event: dict[str, Any] | None = Field(default=None, description="The event that started the run: eventName, "
                                         "data, source")
    record_failure: bool = Field(default=True, description="False for a fused Task that is re-run node by node "
                                 "when it fails (stopOnFailure: false): the re-run records the steps")
    compiled: int | None = Field(default=None, description="COMPILED_CONFIGS when the compiler made this Task: "
                                 "its node configs are dumps of validated ones")


class StepRecord(Camel):
    node_id: str
    kind: str
    status: Literal["completed", "failed", "skipped"]
    started_at: str
    ended_at: str
    duration_ms: float
    error: str | None = None
    error_message: str | None = None
    output: dict[str, Any] | None = None
    item: int | None = Field(default=None, description="Index of the batch item this step ran for")
    source_key: str | None = Field(default=None, description="Key of the upload this step's item came from")


@dataclass
class TaskEnvironment:
    """What a worker may touch: storage, bookkeeping, the bus, settings and a scratch folder."""

    blobs: BlobStore
    workdir: Path
    runs: RunStore | None = None
    bus: EventBus | None = None
    settings: Settings = field(default_factory=get_settings)
    vision: Vision | None = None
    time_budget_seconds: float | None = None
    """Seconds of work this invocation may start (a Lambda's remaining time); None: no limit (embedded, ECS)."""


@dataclass(frozen=True)
class OpContext:
    """What an op executor knows about where it runs."""

    node_id: str
    run: RunContext
    item: int | None = None  # the batch item (Map iteration) this op runs for
    event: dict[str, Any] | None = None  # the event that started the run, if an event did


@dataclass
class OpOutcome:
    """What one op reports for the run record (timings are filled in by the worker)."""

    node_id: str
    kind: str
    started: float
    ended: float
    output: dict[str, Any] | None = None


@dataclass
class ChainResult:
    media: MediaRef
    outcomes: list[OpOutcome]
    branches: list[MediaRef] | None = None


Worker = Callable[[TaskPayload, TaskEnvironment], ChainResult]


def error_name(error: BaseException) -> str:
    """The error name Step Functions sees (Lambda's errorType) and the embedded executor reproduces."""
    return getattr(error, "code", None) or type(error).__name__

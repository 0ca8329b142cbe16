"""What the compiler makes of a workflow: its state machine, the Tasks in it and how it runs. Plain data, so a
command that reads a plan it kept (``embedded/plans.py``) loads no validator, compiler or pydantic (ADR 0010)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mediaflow.definition import WorkflowDefinition

ExecutionType = Literal["EXPRESS", "STANDARD"]


@dataclass(frozen=True)
class BatchOptions:
    """Compile for a batch run: a Map over ``$.items`` (Distributed past 40 items)."""

    expected_items: int = 1


@dataclass(frozen=True)
class CompiledTask:
    state: str
    runtime: str
    node_ids: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    fallback: bool = False  # runs only after its fused Task failed (stopOnFailure: false)
    quick: bool = False  # short whatever its runtime (a frame grab): never makes the run long-running
    long_route: str | None = None
    """The ECS Fargate state that runs this Task when its estimate exceeds the Lambda budget."""


@dataclass
class Compiled:
    asl: dict[str, Any]
    execution_type: ExecutionType
    tasks: list[CompiledTask]
    batch: BatchOptions | None = None
    definition: WorkflowDefinition | None = None
    """The validated definition it was compiled from (None for a plan read back from where it was kept)."""

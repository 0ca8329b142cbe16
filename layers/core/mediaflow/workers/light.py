"""The light worker (runtime ``light``): metadata, checks and delivery on the media reference.

The light kinds never transform pixels or samples, so the worker works on the :class:`MediaRef` and
touches the stored object only when an op needs it: ``storage`` copies it, ``validate`` reads a header
(or probes a copy) when a rule needs a dimension or a duration the reference does not carry. Ops run in
chain order; each one's output reference is the next one's input.

Per-op interface: ``rename`` and ``transform`` define ``apply(media, config, ctx) -> MediaRef`` (shared
with the image worker, which runs them after its encode); ``validate``, ``storage``, ``webhook``,
``notify``, ``publish``, ``ai_generate`` and the provider kinds (Rekognition, Replicate) define
``execute(media, config, ctx, env) -> (MediaRef, output dict)``.
The triggers (``upload``, ``event``, ``email``, ``queue``) pass the media through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mediaflow.catalog import get_spec
from mediaflow.errors import MediaflowError
from mediaflow.execution.contract import ChainResult, Op, OpContext, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import parse_op
from mediaflow.media import MediaRef
from mediaflow.nodes.base import NodeConfig

Executor = Callable[[MediaRef, Any, OpContext, TaskEnvironment], tuple[MediaRef, dict[str, Any]]]

ANNOTATION_KINDS = frozenset({"rename", "transform"})
EXECUTE_KINDS = frozenset({"validate", "storage", "webhook", "notify", "publish", "ai_generate",
                           "aws_rekognition_moderation", "aws_rekognition", "replicate", "replicate_deoldify"})
PASS_THROUGH_KINDS = frozenset({"upload", "event", "email", "queue"})
LIGHT_KINDS = ANNOTATION_KINDS | EXECUTE_KINDS | PASS_THROUGH_KINDS


def parse_config(op: Op) -> tuple[str, NodeConfig]:
    """The canonical kind and the validated config of ``op``; InvalidDefinition names the field."""
    kind, config = parse_op(op, LIGHT_KINDS, "light")
    return kind, config


def _annotation_output(kind: str, media: MediaRef) -> dict[str, Any]:
    if kind == "rename":
        return {"filename": media.filename}
    return {"metadata": dict(media.metadata)}


def run_op(kind: str, media: MediaRef, config: NodeConfig, ctx: OpContext,
           env: TaskEnvironment) -> tuple[MediaRef, dict[str, Any]]:
    """Run one light op on ``media``; returns the new reference and the op's recorded output."""
    if kind in PASS_THROUGH_KINDS:
        return media, {}
    module = get_spec(kind).module  # type: ignore[union-attr]
    if kind in ANNOTATION_KINDS:
        updated: MediaRef = module.apply(media, config, ctx)
        return updated, _annotation_output(kind, updated)
    execute: Executor = module.execute
    return execute(media, config, ctx, env)


def run_chain(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    """Apply ``task.ops`` in order to ``task.media``. Raises a named error carrying the failed node id."""
    parsed = [(op, *parse_config(op)) for op in task.ops]  # refuse a bad chain before any side effect
    media = task.media
    outcomes: list[OpOutcome] = []
    for op, kind, config in parsed:
        ctx = OpContext(node_id=op.node_id, run=task.run, item=task.item, event=task.event)
        started = time.time()
        try:
            media, output = run_op(kind, media, config, ctx, env)
        except MediaflowError as error:
            if error.node_id is None:
                error.node_id = op.node_id
            error.completed_steps = [*outcomes, *error.completed_steps]
            raise
        outcomes.append(OpOutcome(node_id=op.node_id, kind=kind, started=started, ended=time.time(),
                                  output=output))
    return ChainResult(media=media, outcomes=outcomes)

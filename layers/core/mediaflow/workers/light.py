r"""The light worker (runtime ``light``): metadata, checks and delivery on the media reference.

The light kinds never transform pixels or samples, so the worker works on the :class:`MediaRef` and
touches the stored object only when an op needs it: ``storage`` copies it, ``validate`` reads a header
(or probes a copy) when a rule needs a dimension or a duration the reference does not carry. Ops run in
chain order; each one's output reference is the next one's input.

Per-op interface (:mod:`mediaflow.nodes.base`): the annotation kinds (``rename``, ``transform``) are
:class:`~mediaflow.nodes.base.Annotation`\ s (shared with the media workers, which run them after their
encode); the other light task kinds (``validate``, ``storage``, ``import_url``, ``webhook``, ``notify``, ``publish``,
``ai_generate``, the provider kinds) are :class:`~mediaflow.nodes.base.LightOp`\ s. The triggers
(``upload``, ``event``, ``email``, ``queue``) pass the media through.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mediaflow.catalog import annotation_kinds, get_spec, kinds_for, node_module
from mediaflow.errors import MediaflowError
from mediaflow.execution.contract import ChainResult, Op, OpContext, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import parse_op
from mediaflow.media import MediaRef

if TYPE_CHECKING:
    from mediaflow.nodes.base import Annotation, LightOp, NodeConfig


def parse_config(op: Op) -> tuple[str, NodeConfig]:
    """The canonical kind and the validated config of ``op``; InvalidDefinition names the field."""
    kind, config = parse_op(op, kinds_for("light") | annotation_kinds(), "light")
    return kind, config


def _annotation_output(kind: str, media: MediaRef) -> dict[str, Any]:
    if kind == "rename":
        return {"filename": media.filename}
    return {"metadata": dict(media.metadata)}


def run_op(kind: str, media: MediaRef, config: NodeConfig, ctx: OpContext,
           env: TaskEnvironment) -> tuple[MediaRef, dict[str, Any]]:
    """Run one light op on ``media``; returns the new reference and the op's recorded output."""
    spec = get_spec(kind)
    if spec is None or spec.role == "trigger":  # the entry points pass the media through
        return media, {}
    if spec.annotation:
        annotation: Annotation = node_module(kind)
        updated = annotation.apply(media, config, ctx)
        return updated, _annotation_output(kind, updated)
    op: LightOp = node_module(kind)
    return op.execute(media, config, ctx, env)


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

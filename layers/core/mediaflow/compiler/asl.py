"""The compiler: a validated workflow definition -> an ASL state machine.

Media moves between states as a MediaRef at ``$.media``; the run context rides along at ``$.run``.
Consecutive nodes of one runtime are fused into one Task (one Lambda call: one decode, one encode).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediaflow.catalog import RUNTIMES, get_spec, node_module
from mediaflow.compiled import BatchOptions, Compiled, CompiledTask, ExecutionType
from mediaflow.compiler.choice import choice_rule
from mediaflow.definition import WorkflowDefinition
from mediaflow.errors import InvalidDefinition
from mediaflow.execution.contract import COMPILED_CONFIGS

if TYPE_CHECKING:
    from mediaflow.nodes.base import NodeConfig

RESOURCES: dict[str, str] = {runtime: profile.resource for runtime, profile in RUNTIMES.items()}
RESOURCE_RUNTIMES = {placeholder: runtime for runtime, placeholder in RESOURCES.items()}
PLACEHOLDERS = tuple(placeholder[2:-1] for placeholder in RESOURCES.values())  # "VipsFunctionArn", ...
RETRYABLE_ERRORS = [
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# The long route of ffmpeg Tasks: the same image as an ECS Fargate task (docs/long-video.md).
LONG_ROUTE_RUNTIMES = frozenset({"ffmpeg"})
LONG_ROUTE_ERROR = "ExceedsLambdaBudget"
LONG_ROUTE_RESOURCE = "arn:aws:states:::ecs:runTask.sync"
LONG_ROUTE_TIMEOUT_SECONDS = 6 * 3600
LONG_ROUTE_PLACEHOLDERS = ("FfmpegClusterArn", "FfmpegTaskDefinitionArn", "FargateSubnets", "FargateSecurityGroups")
LIST_PLACEHOLDERS = frozenset({"FargateSubnets", "FargateSecurityGroups"})
LONG_ROUTE_CONTAINER = "ffmpeg"
LONG_ROUTE_PAYLOAD_VARIABLE = "MEDIAFLOW_TASK_PAYLOAD"
FUSABLE_RUNTIMES = frozenset({"vips", "ffmpeg", "light"})
MAX_FUSED_OPS = 20
MAX_BRANCH_OUTPUTS = 8
MAX_STATE_NAME = 80
EXPRESS_LIMIT_SECONDS = 300
STANDARD_DEFAULT_TIMEOUT = 3600
DISTRIBUTED_MAP_THRESHOLD = 40

@dataclass
class _Scope:
    states: dict[str, Any] = field(default_factory=dict)


class _Compiler:
    def __init__(self, definition: WorkflowDefinition, configs: dict[str, NodeConfig], *, stop_on_failure: bool,
                 batch: bool = False, long_route: bool = True):
        self.definition = definition
        self.long_route = long_route
        self.batch = batch
        self.configs = configs
        self.stop_on_failure = stop_on_failure
        # stopOnFailure: false: a failed node hands its input media on to its successors, which still run.
        # A fused Task that fails re-runs its nodes one by one (see node_by_node), compiled unfused.
        self.go_on = not definition.settings.stop_on_failure
        self.go_on_unfused = False
        self.nodes = {node.id: node for node in definition.nodes}
        self.children: dict[str, list[str]] = {node.id: [] for node in definition.nodes}
        self.branch_targets: dict[str, dict[str, str]] = {}
        for edge in definition.edges:
            self.children[edge.source].append(edge.target)
            if edge.kind is not None:
                self.branch_targets.setdefault(edge.source, {})[edge.kind] = edge.target
        self.used_names: set[str] = set()
        self.tasks: list[CompiledTask] = []
        retry = definition.settings.retry
        self.retry = [{
            "ErrorEquals": RETRYABLE_ERRORS,
            "IntervalSeconds": retry.interval_seconds,
            "MaxAttempts": retry.max_attempts,
            "BackoffRate": retry.backoff_rate,
        }]
        self.run_timeout: int | None = definition.settings.timeout_seconds
        # A run started by an event has the event in its state (and no media) for every Task.
        self.event = self.kind(self.trigger()) == "event"

    # -- naming -------------------------------------------------------------------------------------
    def _name(self, wanted: str) -> str:
        base = wanted if len(wanted) <= MAX_STATE_NAME else wanted[: MAX_STATE_NAME - 3] + "..."
        name, counter = base, 2
        while name in self.used_names:
            suffix = f"~{counter}"
            name = base[: MAX_STATE_NAME - len(suffix)] + suffix
            counter += 1
        self.used_names.add(name)
        return name

    # -- graph helpers ------------------------------------------------------------------------------
    def kind(self, node_id: str) -> str:
        spec = get_spec(self.nodes[node_id].kind)
        assert spec is not None
        return spec.kind

    def runtime(self, node_id: str) -> str:
        spec = get_spec(self.nodes[node_id].kind)
        assert spec is not None
        return spec.runtime_for(self.configs[node_id])

    def role(self, node_id: str) -> str:
        spec = get_spec(self.nodes[node_id].kind)
        assert spec is not None
        return spec.role

    def annotation(self, node_id: str) -> bool:
        spec = get_spec(self.nodes[node_id].kind)
        return bool(spec and spec.annotation)

    def media_switch(self, node_id: str) -> bool:
        """A node that takes images and videos alike (``thumbnail`` with ``source: auto``). Where it starts a
        chain (after the trigger, a branch, light ops or another runtime's ops) a Choice on the media type
        sends a video through an ffmpeg frame grab first; after libvips ops the media is an image, so it
        fuses with them like any image op."""
        return self.kind(node_id) == "thumbnail" and getattr(self.configs[node_id], "source", None) == "auto"

    def fusable(self, node_id: str) -> bool:
        spec = get_spec(self.nodes[node_id].kind)
        return bool(spec and (spec.fusable or spec.annotation or spec.runtime == "light"))

    # -- compilation --------------------------------------------------------------------------------
    def trigger(self) -> str:
        return next(n.id for n in self.definition.nodes if self.role(n.id) == "trigger")

    def compile_scope(self, starts: list[str]) -> dict[str, Any]:
        scope = _Scope()
        if not starts:
            name = self._name("Done")
            scope.states[name] = {"Type": "Succeed"}
            return {"StartAt": name, "States": scope.states}
        start = self.compile_targets(starts, scope, anchor="start")
        return {"StartAt": start, "States": scope.states}

    def compile_targets(self, targets: list[str], scope: _Scope, anchor: str) -> str:
        """The state that runs ``targets`` (several targets: a Parallel state, one branch each)."""
        if len(targets) == 1:
            return self.compile_node(targets[0], scope)
        name = self._name(f"{anchor}.fanout")
        scope.states[name] = {}  # reserve the key so states stay in reading order
        branches = [self.compile_scope([target]) for target in targets]
        scope.states[name] = {"Type": "Parallel", "Branches": branches, "ResultPath": "$.branches", "End": True}
        return name

    def compile_node(self, node_id: str, scope: _Scope) -> str:
        role = self.role(node_id)
        if role == "choice":
            return self.compile_branch(node_id, scope)
        if role == "gate":
            return self.compile_gate(node_id, scope)
        return self.compile_task_chain(node_id, scope)

    def compile_branch(self, node_id: str, scope: _Scope) -> str:
        name = self._name(node_id)
        scope.states[name] = {}
        conditions = getattr(self.configs[node_id], "conditions", None)
        assert conditions is not None, "validation guarantees a branch has conditions"
        targets = self.branch_targets[node_id]
        on_true = self.compile_node(targets["true"], scope)
        on_false = self.compile_node(targets["false"], scope)
        scope.states[name] = {
            "Type": "Choice",
            "Comment": f"branch {node_id}",
            "Choices": [{**choice_rule(conditions), "Next": on_true}],
            "Default": on_false,
        }
        return name

    def compile_gate(self, node_id: str, scope: _Scope) -> str:
        name = self._name(node_id)
        scope.states[name] = {}
        children = self.children[node_id]
        if children:
            on_true = self.compile_targets(children, scope, anchor=node_id)
        else:
            on_true = self._name(f"{node_id}.Passed")
            scope.states[on_true] = {"Type": "Succeed"}
        skipped = self._name(f"{node_id}.Skipped")
        scope.states[name] = {
            "Type": "Choice",
            "Comment": f"condition {node_id}",
            "Choices": [{**choice_rule(self.configs[node_id].conditions), "Next": on_true}],  # type: ignore[attr-defined]
            "Default": skipped,
        }
        scope.states[skipped] = {
            "Type": "Pass",
            "Result": {"nodeId": node_id, "reason": "conditions not met"},
            "ResultPath": "$.skipped",
            "End": True,
        }
        return name

    def is_light(self, node_id: str) -> bool:
        spec = get_spec(self.nodes[node_id].kind)
        return bool(spec and spec.runtime == "light" and spec.role == "task")

    def chain_from(self, node_id: str) -> list[str]:
        """The longest run of nodes that one Task can execute, starting at ``node_id``.

        A chain is: light ops, then the ops of one media runtime (several when they fuse, with rename /
        transform between them), then light ops. The worker splits it the same way (execution/tasks.py).
        """
        chain: list[str] = []
        phase, runtime, open_runtime = 0, "light", False
        current: str | None = node_id
        limit = 1 if self.go_on_unfused else MAX_FUSED_OPS
        while current is not None and len(chain) < limit:
            if self.role(current) != "task" or (self.media_switch(current) and chain and phase == 0):
                break  # after light ops only, the media may be a video: the switch starts its own chain
            if self.is_light(current):
                if phase == 1 and not (open_runtime and self.annotation(current)):
                    phase = 2
            else:
                node_runtime = self.runtime(current)
                if phase == 0:
                    phase, runtime = 1, node_runtime
                    open_runtime = self.fusable(current) and node_runtime in FUSABLE_RUNTIMES
                elif not (phase == 1 and open_runtime and self.fusable(current) and node_runtime == runtime):
                    break
            chain.append(current)
            kids = self.children[current]
            current = kids[0] if len(kids) == 1 else None
        return chain

    def chain_runtime(self, chain: list[str]) -> str:
        for node_id in chain:
            if not self.is_light(node_id):
                return self.runtime(node_id)
        return "light"

    def shares_runtime(self, chain: list[str], child: str) -> bool:
        """Whether ``child``'s own chain would run on the same media runtime as ``chain``."""
        runtime = self.chain_runtime(chain)
        return (runtime in ("vips", "ffmpeg") and self.role(child) == "task" and not self.is_light(child)
                and self.fusable(child) and self.runtime(child) == runtime and all(
                    self.fusable(member) for member in chain if not self.is_light(member)))

    def output_branches(self, chain: list[str], kids: list[str]) -> list[list[str]] | None:
        """The kids' chains when one libvips Task can end every branch from a single decode, else None.

        That holds when the shared ops are all fusable libvips ops and every branch is a chain that ends
        the path: libvips ops (then light ops), or light ops alone.
        """
        if (self.go_on_unfused or len(kids) < 2 or len(kids) > MAX_BRANCH_OUTPUTS or self.chain_runtime(chain) != "vips"
                or any(self.is_light(m) or not self.fusable(m) for m in chain)):
            return None
        branches: list[list[str]] = []
        for kid in kids:
            if self.role(kid) != "task":
                return None
            branch = self.chain_from(kid)
            media_ops = [m for m in branch if not self.is_light(m)]
            if self.children[branch[-1]] or (media_ops and (self.is_light(branch[0]) or any(
                    not self.fusable(m) or self.runtime(m) != "vips" for m in media_ops))):
                return None
            if len(chain) + sum(len(b) for b in branches) + len(branch) > MAX_FUSED_OPS:
                return None
            branches.append(branch)
        return branches

    def compile_task_chain(self, node_id: str, scope: _Scope, prefix: tuple[str, ...] = (),
                           switched: bool = False) -> str:
        if not prefix and not switched and self.media_switch(node_id):
            return self.compile_media_switch(node_id, scope)
        chain = [*prefix, *self.chain_from(node_id)]
        kids = self.children[chain[-1]]
        outputs = self.output_branches(chain, kids)
        if outputs is not None:
            return self.emit_task(chain, scope, outputs)
        if (len(kids) > 1 and not self.go_on_unfused and len(chain) < MAX_FUSED_OPS
                and not any(self.is_light(m) for m in chain) and all(self.shares_runtime(chain, kid) for kid in kids)):
            # Fan-out between ops of one runtime: each branch repeats the shared ops in its own Task,
            # so every output is decoded once and encoded once instead of re-encoding an intermediate.
            name = self._name(f"{chain[-1]}.fanout")
            scope.states[name] = {}
            branches = []
            for kid in kids:
                branch_scope = _Scope()
                start = self.compile_task_chain(kid, branch_scope, prefix=tuple(chain))
                branches.append({"StartAt": start, "States": branch_scope.states})
            scope.states[name] = {"Type": "Parallel", "Branches": branches, "ResultPath": "$.branches",
                                  "End": True}
            return name
        return self.emit_task(chain, scope)

    def compile_media_switch(self, node_id: str, scope: _Scope) -> str:
        """Choice on ``$.media.mediaType``: a video goes through an ffmpeg Task that grabs the frame, then
        into the node's own (libvips) chain, which every other media enters directly."""
        name = self._name(f"{node_id}.media")
        scope.states[name] = {}
        image_chain = self.compile_task_chain(node_id, scope, switched=True)
        frame = self.emit_task([node_id], scope, following={"Next": image_chain}, frame=True)
        scope.states[name] = {
            "Type": "Choice",
            "Comment": f"{self.kind(node_id)} {node_id}: a video gives a representative frame first",
            "Choices": [{"Variable": "$.media.mediaType", "StringEquals": "video", "Next": frame}],
            "Default": image_chain,
        }
        return name

    def op(self, member: str) -> dict[str, Any]:
        return {"nodeId": member, "kind": self.kind(member),
                "config": self.configs[member].model_dump(mode="json", by_alias=True, exclude_none=True)}

    def frame_op(self, node_id: str) -> dict[str, Any]:
        thumbnail = node_module("thumbnail")  # a video's frame for the thumbnail's own libvips Task
        return {"nodeId": node_id, "kind": self.kind(node_id), "config": thumbnail.frame_config(self.configs[node_id])}

    def emit_task(self, chain: list[str], scope: _Scope, outputs: list[list[str]] | None = None, *,
                  following: dict[str, Any] | None = None, frame: bool = False) -> str:
        """One Task state for ``chain`` (and, for a fan-out Task, every branch's ops after it).

        ``following`` ({"Next": state} or {"End": True}) defaults to the chain's children. Tasks compiled
        while re-running a fused chain node by node (stopOnFailure: false) are marked ``fallback``;
        ``frame`` makes the ffmpeg Task that grabs a video's frame for the one node of ``chain`` (a media switch).
        """
        runtime = "ffmpeg" if frame else self.chain_runtime(chain)
        members = chain + [member for branch in outputs or [] for member in branch]
        name = self._name(f"{chain[0]}.frame" if frame else
                          "+".join(chain) + (f".fanout{len(outputs)}" if outputs else ""))
        scope.states[name] = {}
        position = len(self.tasks)
        self.tasks.append(CompiledTask(state=name, runtime=runtime, node_ids=tuple(members),
                                       kinds=tuple(self.kind(member) for member in members),
                                       fallback=self.go_on_unfused, quick=frame))
        ops = [self.frame_op(chain[0]) if frame else self.op(member) for member in chain]
        timeout = RUNTIMES[runtime].timeout_seconds
        if self.run_timeout is not None:
            timeout = min(timeout, self.run_timeout)
        fused_go_on = self.go_on and len(members) > 1
        failed = "" if fused_go_on and not self.stop_on_failure else self._name(f"{name}.Failed")
        state: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"{runtime}: {', '.join(op['kind'] for op in ops)}",
            "Resource": RESOURCES[runtime],
            "Parameters": {"runtime": runtime, "ops": ops, "compiled": COMPILED_CONFIGS, "run.$": "$.run",
                           "media.$": "$.media",
                           **({"item.$": "$.item"} if self.batch else {}),
                           **({"event.$": "$.event"} if self.event else {}),
                           **({"recordFailure": False} if fused_go_on else {})},
            "ResultPath": "$.branches" if outputs else "$.media",
            "TimeoutSeconds": timeout,
            "Retry": self.retry,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed}],
        }
        if outputs:
            state["Parameters"]["branches"] = [[self.op(member) for member in branch] for branch in outputs]
        if following is None:
            children = [] if outputs else self.children[chain[-1]]
            following = {"End": True}
            if children:
                following = {"Next": self.compile_targets(children, scope, anchor=chain[-1])}
        state.update(following)
        scope.states[name] = state
        if self.stop_on_failure:
            scope.states[failed] = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
        elif fused_go_on:
            # The fused Task failed: run its nodes one by one from the same input, so only the failing node
            # is missed (the fast path stays one Task when nothing fails).
            state["Catch"][0]["Next"] = self.node_by_node(chain, outputs, following, scope)
        elif self.go_on:
            # The failure is kept under its node (later failures do not overwrite it) and the input media,
            # left in place by the Catch, goes on to the successors.
            scope.states[failed] = {"Type": "Pass", "Parameters": self.failure(members),
                                    "ResultPath": f"$.failures.{_path_key(chain[-1])}", **following}
        else:
            scope.states[failed] = {"Type": "Pass", "Parameters": self.failure(members), "ResultPath": "$.failure",
                                    "End": True}
        if runtime in LONG_ROUTE_RUNTIMES and not outputs and self.long_route and not frame:
            fargate = self.emit_long_route(name, state, scope)
            self.tasks[position] = dataclasses.replace(self.tasks[position], long_route=fargate)
        return name

    def emit_long_route(self, name: str, task: dict[str, Any], scope: _Scope) -> str:
        """Work past the Lambda budget: the Lambda raises ExceedsLambdaBudget before encoding; the Catch
        runs the same payload in the same image on ECS Fargate, whose result the Lambda then collects (it
        stored it under the task key), so the path continues exactly as after the Lambda Task."""
        handoff, fargate, collect = (self._name(f"{name}.{step}") for step in ("Handoff", "Fargate", "Collect"))
        # A failure on the long route goes where the Task's own failures go (Fail, the failure record, or
        # the node-by-node re-run of a fused chain).
        catch_all = [dict(next(c for c in task["Catch"] if c["ErrorEquals"] == ["States.ALL"]))]
        task["Catch"].insert(0, {"ErrorEquals": [LONG_ROUTE_ERROR], "ResultPath": "$.handoff", "Next": handoff})
        timeout = LONG_ROUTE_TIMEOUT_SECONDS if self.run_timeout is None else min(LONG_ROUTE_TIMEOUT_SECONDS,
                                                                                   self.run_timeout)
        scope.states[handoff] = {"Type": "Pass", "Parameters": task["Parameters"], "ResultPath": "$.handoff",
                                 "Next": fargate}
        scope.states[fargate] = {
            "Type": "Task",
            "Comment": "ffmpeg on ECS Fargate: the same image and task code, past Lambda's budget",
            "Resource": LONG_ROUTE_RESOURCE,
            "Parameters": {
                "Cluster": "${FfmpegClusterArn}",
                "TaskDefinition": "${FfmpegTaskDefinitionArn}",
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {"AwsvpcConfiguration": {
                    "Subnets": "${FargateSubnets}", "SecurityGroups": "${FargateSecurityGroups}",
                    "AssignPublicIp": "ENABLED"}},
                "Overrides": {"ContainerOverrides": [{"Name": LONG_ROUTE_CONTAINER, "Environment": [
                    {"Name": LONG_ROUTE_PAYLOAD_VARIABLE, "Value.$": "States.JsonToString($.handoff)"}]}]},
            },
            "ResultSelector": {"taskArn.$": "$.TaskArn"},
            "ResultPath": "$.handoff",
            "TimeoutSeconds": timeout,
            "Retry": [{**self.retry[0], "ErrorEquals": ["ECS.AmazonECSException"]}],
            "Catch": catch_all,
            "Next": collect,
        }
        scope.states[collect] = {
            **{key: value for key, value in task.items() if key not in ("Catch", "Comment", "Parameters")},
            "Comment": "collect the Fargate task's stored result",
            "Parameters": {**task["Parameters"], "handoff": "collect"},
            "Catch": catch_all,
        }
        return fargate

    def failure(self, members: list[str]) -> dict[str, Any]:
        """What a caught node failure records; in a batch, with the item's index and source key."""
        return {"nodeIds": members, "error.$": "$.error.Error", "cause.$": "$.error.Cause",
                **({"item.$": "$.item", "sourceKey.$": "$.sourceKey"} if self.batch else {})}

    def node_by_node(self, chain: list[str], outputs: list[list[str]] | None, following: dict[str, Any],
                     scope: _Scope) -> str:
        """One-node Tasks for ``chain`` (then each output branch, compiled unfused), ending at ``following``."""
        unfused, self.go_on_unfused = self.go_on_unfused, True
        try:
            if outputs:
                following = {"Next": self.compile_targets([branch[0] for branch in outputs], scope,
                                                          anchor=chain[-1])}
            for member in reversed(chain):
                following = {"Next": self.emit_task([member], scope, following=following)}
        finally:
            self.go_on_unfused = unfused
        start: str = following["Next"]
        return start


def _path_key(node_id: str) -> str:
    """A node id as a plain JSONPath field name (ids may hold ``-``)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in node_id)


def _runtimes_long(tasks: list[CompiledTask]) -> bool:
    return any(RUNTIMES[task.runtime].long_running and not task.quick for task in tasks)


def compile_definition(raw: Any, *, batch: BatchOptions | None = None) -> Compiled:
    """The one way from a stored or submitted definition (any accepted shape, or the ValidationReport of
    one) to its state machine: validate, then compile. InvalidDefinition carries the issues when it does
    not validate."""
    from mediaflow.validation import ValidationReport, validate

    report = raw if isinstance(raw, ValidationReport) else validate(raw)
    if not report.valid or report.definition is None:
        raise InvalidDefinition("; ".join(str(issue) for issue in report.errors) or "invalid definition",
                                issues=report.errors, warnings=report.warnings)
    return compile_workflow(report.definition, report.configs, batch=batch)


def compile_workflow(
    definition: WorkflowDefinition | dict[str, Any],
    configs: dict[str, NodeConfig] | None = None,
    *,
    batch: BatchOptions | None = None,
) -> Compiled:
    """Compile a workflow. Pure: the same definition always gives the same ASL (see ``dumps_asl``)."""
    if configs is None or not isinstance(definition, WorkflowDefinition):
        raw = definition.canonical() if isinstance(definition, WorkflowDefinition) else definition
        return compile_definition(raw, batch=batch)
    settings = definition.settings
    # Express workflows cannot wait on .sync integrations: there ffmpeg stays on Lambda.
    compiler = _Compiler(definition, configs, stop_on_failure=settings.stop_on_failure and batch is None,
                         batch=batch is not None, long_route=settings.execution_type != "express")
    body = compiler.compile_scope(compiler.children[compiler.trigger()])
    long_running = _runtimes_long(compiler.tasks)
    long_route = any(task.long_route for task in compiler.tasks)
    large_batch = batch is not None and batch.expected_items > DISTRIBUTED_MAP_THRESHOLD
    if settings.execution_type == "express":
        execution_type: ExecutionType = "EXPRESS"
    elif settings.execution_type == "standard":
        execution_type = "STANDARD"
    else:
        too_long = settings.timeout_seconds is not None and settings.timeout_seconds > EXPRESS_LIMIT_SECONDS
        execution_type = "STANDARD" if long_running or large_batch or too_long else "EXPRESS"
    if execution_type == "EXPRESS" and large_batch:
        execution_type = "STANDARD"  # a Distributed Map runs only inside a Standard workflow
    standard_timeout = LONG_ROUTE_TIMEOUT_SECONDS if long_route else STANDARD_DEFAULT_TIMEOUT
    timeout = settings.timeout_seconds or (EXPRESS_LIMIT_SECONDS if execution_type == "EXPRESS" else standard_timeout)
    if execution_type == "EXPRESS":
        timeout = min(timeout, EXPRESS_LIMIT_SECONDS)
    comment = f"mediaflow workflow {definition.name}" if definition.name else "mediaflow workflow"
    if batch is None:
        asl: dict[str, Any] = {"Comment": comment, "StartAt": body["StartAt"], "States": body["States"],
                               "TimeoutSeconds": timeout}
    else:
        processor: dict[str, Any] = {"Mode": "INLINE"}
        if large_batch:
            processor = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" if long_running else "EXPRESS"}
        asl = {
            "Comment": f"{comment} (batch)",
            "StartAt": "Items",
            "States": {"Items": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"run.$": "$.run", "media.$": "$$.Map.Item.Value", "item.$": "$$.Map.Item.Index",
                                 "sourceKey.$": "$$.Map.Item.Value.key"},
                "MaxConcurrency": settings.max_concurrency,
                "ItemProcessor": {"ProcessorConfig": processor, **body},
                "ResultPath": "$.results",
                "End": True,
            }},
            "TimeoutSeconds": timeout,
        }
    return Compiled(asl=asl, execution_type=execution_type, tasks=compiler.tasks, batch=batch, definition=definition)


def substitute(asl: Any, values: Mapping[str, str]) -> Any:
    """A copy of ``asl`` with every ``${Name}`` placeholder replaced by ``values[Name]`` (function ARNs,
    the long route's cluster and task definition). A list placeholder (the Fargate subnets and security
    groups) is a string that is exactly ``${Name}``; it becomes the list of the comma-separated value."""
    if isinstance(asl, str) and asl[2:-1] in LIST_PLACEHOLDERS and asl == "${" + asl[2:-1] + "}":
        return [part.strip() for part in values.get(asl[2:-1], "").split(",") if part.strip()]
    if isinstance(asl, dict):
        return {key: substitute(value, values) for key, value in asl.items()}
    if isinstance(asl, list):
        return [substitute(value, values) for value in asl]
    if isinstance(asl, str) and "${" in asl:
        for name, value in values.items():
            asl = asl.replace("${" + name + "}", value)
    return asl


def dumps_asl(asl: dict[str, Any]) -> str:
    """The canonical bytes of a state machine (golden files compare these)."""
    return json.dumps(asl, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

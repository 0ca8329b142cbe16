"""The plan: what a compiled workflow costs per run (transitions, Lambda GB-seconds, dollars).

Price assumptions (us-east-1, x86, on-demand; docs/pricing.md): Step Functions Standard $0.025 per
1,000 state transitions; Express $1.00 per million requests plus $0.00001667 per GB-second billed
in 64 MB steps; Lambda $0.20 per million requests plus $0.0000166667 per GB-second. Each runtime's
memory size and typical seconds per task are in ``mediaflow.catalog.RUNTIMES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediaflow.catalog import RUNTIMES
from mediaflow.compiler.asl import RESOURCE_RUNTIMES, BatchOptions, Compiled, compile_workflow
from mediaflow.definition import WorkflowDefinition

if TYPE_CHECKING:
    from mediaflow.nodes.base import NodeConfig

STANDARD_PER_TRANSITION = 0.000025
EXPRESS_PER_REQUEST = 0.000001
EXPRESS_PER_GB_SECOND = 0.00001667
EXPRESS_BILLED_GB = 0.0625
LAMBDA_PER_REQUEST = 0.0000002
LAMBDA_PER_GB_SECOND = 0.0000166667

PRICE_ASSUMPTIONS: dict[str, Any] = {
    "region": "us-east-1",
    "stepFunctionsStandardPerTransitionUsd": STANDARD_PER_TRANSITION,
    "stepFunctionsExpressPerRequestUsd": EXPRESS_PER_REQUEST,
    "stepFunctionsExpressPerGbSecondUsd": EXPRESS_PER_GB_SECOND,
    "lambdaPerRequestUsd": LAMBDA_PER_REQUEST,
    "lambdaPerGbSecondUsd": LAMBDA_PER_GB_SECOND,
    "runtimes": {name: {"memoryMb": profile.memory_mb, "secondsPerTask": profile.seconds_per_task}
                 for name, profile in RUNTIMES.items()},
    "path": "the most expensive path through every branch; all branches of a fan-out",
}


@dataclass
class PathCost:
    transitions: int = 0
    task_runtimes: list[str] = field(default_factory=list)

    def add(self, other: PathCost) -> None:
        self.transitions += other.transitions
        self.task_runtimes.extend(other.task_runtimes)

    def dollars(self) -> float:
        return sum(_lambda_cost(runtime) for runtime in self.task_runtimes)


def _lambda_cost(runtime: str) -> float:
    profile = RUNTIMES[runtime]
    return LAMBDA_PER_REQUEST + profile.memory_mb / 1024 * profile.seconds_per_task * LAMBDA_PER_GB_SECOND


def _walk(states: dict[str, Any], start: str, items: int) -> PathCost:
    """Cost of the most expensive path from ``start`` (states are a DAG within one scope)."""
    memo: dict[str, PathCost] = {}

    def visit(name: str) -> PathCost:
        if name in memo:
            return memo[name]
        state = states[name]
        here = PathCost(transitions=1)
        kind = state["Type"]
        if kind == "Task":
            here.task_runtimes.append(RESOURCE_RUNTIMES.get(state["Resource"], "light"))
        elif kind == "Parallel":
            for branch in state["Branches"]:
                here.add(_walk(branch["States"], branch["StartAt"], items))
        elif kind == "Map":
            inner = state["ItemProcessor"]
            one = _walk(inner["States"], inner["StartAt"], items)
            here.transitions += one.transitions * items
            here.task_runtimes.extend(one.task_runtimes * items)
        if kind == "Choice":
            options = [choice["Next"] for choice in state["Choices"]] + [state["Default"]]
            worst = max((visit(option) for option in options), key=lambda cost: (cost.dollars(), cost.transitions))
            here.add(worst)
        elif "Next" in state:
            here.add(visit(state["Next"]))
        memo[name] = here
        return here

    return visit(start)


@dataclass
class Plan:
    compiled: Compiled
    transitions_per_run: int
    cost_per_1000_runs_usd: float
    lambda_invocations_per_run: int

    @property
    def task_states(self) -> int:
        """Task states on the normal path (node-by-node fallbacks run only after a fused Task failed)."""
        return sum(1 for task in self.compiled.tasks if not task.fallback)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stateMachine": self.compiled.asl,
            "executionType": self.compiled.execution_type,
            "taskStates": self.task_states,
            "transitionsPerRun": self.transitions_per_run,
            "lambdaInvocationsPerRun": self.lambda_invocations_per_run,
            "estimatedCostPer1000RunsUsd": self.cost_per_1000_runs_usd,
            "tasks": [{"state": task.state, "runtime": task.runtime, "nodes": list(task.node_ids),
                       "longRoute": task.long_route, **({"fallback": True} if task.fallback else {})}
                      for task in self.compiled.tasks],
            "assumptions": PRICE_ASSUMPTIONS,
        }


def plan_compiled(compiled: Compiled) -> Plan:
    items = compiled.batch.expected_items if compiled.batch else 1
    cost = _walk(compiled.asl["States"], compiled.asl["StartAt"], items)
    lambda_dollars = cost.dollars()
    if compiled.execution_type == "STANDARD":
        orchestration = cost.transitions * STANDARD_PER_TRANSITION
    else:
        seconds = sum(RUNTIMES[runtime].seconds_per_task for runtime in cost.task_runtimes)
        orchestration = EXPRESS_PER_REQUEST + seconds * EXPRESS_BILLED_GB * EXPRESS_PER_GB_SECOND
    return Plan(
        compiled=compiled,
        transitions_per_run=cost.transitions,
        cost_per_1000_runs_usd=round((lambda_dollars + orchestration) * 1000, 6),
        lambda_invocations_per_run=len(cost.task_runtimes),
    )


def plan_workflow(
    definition: WorkflowDefinition | dict[str, Any],
    configs: dict[str, NodeConfig] | None = None,
    *,
    batch: BatchOptions | None = None,
) -> Plan:
    return plan_compiled(compile_workflow(definition, configs, batch=batch))

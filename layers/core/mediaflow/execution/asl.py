"""An interpreter for the Amazon States Language subset the compiler emits.

States: Task, Choice, Parallel, Map (INLINE and DISTRIBUTED run alike), Pass, Wait, Succeed, Fail.
Fields: InputPath, Parameters / ItemSelector, ResultSelector, ResultPath, OutputPath, Retry, Catch,
TimeoutSeconds (per Task and per machine). Intrinsic functions are not supported.

Tasks go through an injected invoker ``(resource, payload) -> result``. An exception from it becomes
the ASL error ``error_name(exc)`` with the Cause Lambda would give Step Functions:
``{"errorMessage": ..., "errorType": ...}``. Parallel branches and Map items run on threads; the heavy
work is expected to happen behind the invoker.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, Literal

from mediaflow.clock import now_iso
from mediaflow.execution.contract import error_name
from mediaflow.threads import ReusedThreads
from mediaflow.wildcards import wildcard_match

Invoker = Callable[[str, dict[str, Any]], Any]
Sleep = Callable[[float], None]
ExecutionStatus = Literal["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"]

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
STATE_TYPES = frozenset({"Task", "Choice", "Parallel", "Map", "Pass", "Wait", "Succeed", "Fail"})
# Terminal errors that States.ALL (and States.TaskFailed) do not match.
_UNCATCHABLE_BY_WILDCARD = frozenset({"States.Runtime", "States.DataLimitExceeded"})
_TASK_THREADS = ReusedThreads("asl-task")  # each Task waits for its invoker on one of these
_POLL_SECONDS = 0.05


class AslDefinitionError(ValueError):
    """The state machine document is not valid ASL (or uses a feature this interpreter lacks)."""


class StatesError(Exception):
    """An ASL error: what Retry and Catch match on and what a failed execution reports."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def to_output(self) -> dict[str, Any]:
        return {"Error": self.error, "Cause": self.cause}


class _Interrupt(Exception):
    """Stops a branch between states; never matched by Retry or Catch."""


class _Aborted(_Interrupt):
    pass


class _TimedOut(_Interrupt):
    pass


class _Stopped(_Interrupt):
    """A sibling branch or item failed, so this one stops."""



def copy_json(value: Any) -> Any:
    """A copy of a JSON value (state, results, parameters: dicts, lists and scalars only), as ``deepcopy`` makes
    it, at a fraction of its cost (no memo, no dispatch by type): each run's state is copied several times."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value

def _runtime_error(message: str) -> StatesError:
    return StatesError("States.Runtime", message)


def task_error(exc: BaseException) -> StatesError:
    """The ASL error a Task sees when its invoker raises ``exc`` (Lambda's error shape)."""
    if isinstance(exc, StatesError):
        return exc
    name = error_name(exc)
    return StatesError(name, json.dumps({"errorMessage": str(exc), "errorType": name}))


# -- JSONPath ----------------------------------------------------------------------------------------

_Token = tuple[str, Any]  # ("field", name) | ("index", n) | ("wild", None)
_FIELD = re.compile(r"\.([^.\[\]]+)")
_BRACKET = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+)|(\*))\s*\]""")
_MISSING = object()


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[_Token, ...]:
    """Parse the JSONPath subset ASL uses: ``$``, ``.field``, ``['field']``, ``[n]``, ``[*]``, ``.*``."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise _runtime_error(f"invalid path {path!r}: a path starts with '$'")
    tokens: list[_Token] = []
    position = 1
    while position < len(path):
        if path.startswith("..", position):
            raise _runtime_error(f"invalid path {path!r}: recursive descent is not supported")
        match = _FIELD.match(path, position)
        if match:
            name = match.group(1)
            tokens.append(("wild", None) if name == "*" else ("field", name))
            position = match.end()
            continue
        match = _BRACKET.match(path, position)
        if match:
            quoted = match.group(1) if match.group(1) is not None else match.group(2)
            if quoted is not None:
                tokens.append(("field", re.sub(r"\\(.)", r"\1", quoted)))
            elif match.group(3) is not None:
                tokens.append(("index", int(match.group(3))))
            else:
                tokens.append(("wild", None))
            position = match.end()
            continue
        raise _runtime_error(f"invalid path {path!r} at character {position}")
    return tuple(tokens)


def _select(value: Any, tokens: tuple[_Token, ...]) -> list[Any]:
    current = [value]
    for kind, arg in tokens:
        following: list[Any] = []
        for item in current:
            if kind == "field":
                if isinstance(item, dict) and arg in item:
                    following.append(item[arg])
            elif kind == "index":
                if isinstance(item, list) and -len(item) <= arg < len(item):
                    following.append(item[arg])
            elif isinstance(item, dict):
                following.extend(item.values())
            elif isinstance(item, list):
                following.extend(item)
        current = following
    return current


def lookup(data: Any, path: str) -> Any:
    """The value at ``path``; a list of matches for wildcard paths. Raises KeyError when absent."""
    tokens = parse_path(path)
    matches = _select(data, tokens)
    if any(kind == "wild" for kind, _ in tokens):
        return matches
    if not matches:
        raise KeyError(path)
    return matches[0]


def read_path(data: Any, path: str, *, what: str) -> Any:
    try:
        return lookup(data, path)
    except KeyError:
        raise _runtime_error(f"{what}: the JSONPath {path!r} could not be found in the input") from None


def _present(data: Any, path: str) -> bool:
    try:
        lookup(data, path)
    except KeyError:
        return False
    return True


def apply_result_path(raw_input: Any, result: Any, result_path: str | object | None) -> Any:
    """Combine a state's raw input with its result as ResultPath says (absent = ``$``, None = discard)."""
    if result_path is _MISSING or result_path == "$":
        return result
    if result_path is None:
        return raw_input
    tokens = parse_path(str(result_path))
    if any(kind == "wild" for kind, _ in tokens):
        raise StatesError("States.ResultPathMatchFailure",
                          f"ResultPath {result_path!r} is not a reference path")
    if not isinstance(raw_input, dict):
        raise StatesError("States.ResultPathMatchFailure",
                          f"cannot apply ResultPath {result_path!r} to a non-object input")
    output = copy_json(raw_input)
    target: Any = output
    for position, (kind, arg) in enumerate(tokens):
        last = position == len(tokens) - 1
        if kind == "field" and isinstance(target, dict):
            if last:
                target[arg] = result
            else:
                if not isinstance(target.get(arg), dict | list):
                    target[arg] = {}
                target = target[arg]
        elif kind == "index" and isinstance(target, list) and -len(target) <= arg < len(target):
            if last:
                target[arg] = result
            else:
                target = target[arg]
        else:
            raise StatesError("States.ResultPathMatchFailure",
                              f"unable to apply ResultPath {result_path!r} to the state input")
    return output


def fill_template(template: Any, data: Any, context: dict[str, Any], *, what: str) -> Any:
    """Evaluate a Parameters / ResultSelector / ItemSelector template."""
    if isinstance(template, dict):
        filled: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise _runtime_error(f"{what}: the value of {key!r} must be a path string")
                filled[key[:-2]] = _dynamic_value(value, data, context, what=what)
            else:
                filled[key] = fill_template(value, data, context, what=what)
        return filled
    if isinstance(template, list):
        return [fill_template(item, data, context, what=what) for item in template]
    return template


def _dynamic_value(expression: str, data: Any, context: dict[str, Any], *, what: str) -> Any:
    if expression.startswith("$$"):
        return copy_json(read_path(context, expression[1:], what=what))
    if expression.startswith("$"):
        return copy_json(read_path(data, expression, what=what))
    raise _runtime_error(f"{what}: intrinsic functions are not supported ({expression!r})")


# -- Choice rules --------------------------------------------------------------------------------------

_COMPARATORS = (
    "StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals",
    "NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals",
    "NumericGreaterThanEquals", "BooleanEquals", "TimestampEquals", "TimestampLessThan",
    "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals", "StringMatches",
)
_TYPE_TESTS = ("IsPresent", "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def string_matches(value: str, pattern: str) -> bool:
    """ASL StringMatches (the same rule the compiler's conditions use)."""
    return wildcard_match(pattern, value)


def _compare(op: str, value: Any, expected: Any) -> bool:
    family = next((f for f in ("String", "Numeric", "Timestamp") if op.startswith(f)), op)
    relation = op.removeprefix(family)
    if op == "StringMatches":
        return isinstance(value, str) and isinstance(expected, str) and string_matches(value, expected)
    if op == "BooleanEquals":
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    left: Any
    right: Any
    if family == "String":
        if not (isinstance(value, str) and isinstance(expected, str)):
            return False
        left, right = value, expected
    elif family == "Numeric":
        if not (_is_number(value) and _is_number(expected)):
            return False
        left, right = value, expected
    else:
        left, right = _timestamp(value), _timestamp(expected)
        if left is None or right is None:
            return False
    return {
        "Equals": left == right, "LessThan": left < right, "GreaterThan": left > right,
        "LessThanEquals": left <= right, "GreaterThanEquals": left >= right,
    }[relation]


def evaluate_rule(rule: dict[str, Any], data: Any) -> bool:
    """Evaluate one Choice rule (And / Or / Not or a comparison on ``Variable``) against ``data``."""
    if "And" in rule:
        return all(evaluate_rule(sub, data) for sub in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(sub, data) for sub in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise _runtime_error(f"Choice rule without a Variable: {rule!r}")
    if "IsPresent" in rule:
        return _present(data, variable) == bool(rule["IsPresent"])
    value = read_path(data, variable, what="Choice Variable")
    for test in _TYPE_TESTS[1:]:
        if test in rule:
            actual = {
                "IsNull": value is None, "IsNumeric": _is_number(value), "IsString": isinstance(value, str),
                "IsBoolean": isinstance(value, bool), "IsTimestamp": _timestamp(value) is not None,
            }[test]
            return actual == bool(rule[test])
    for op in _COMPARATORS:
        if op in rule:
            return _compare(op, value, rule[op])
        if op + "Path" in rule:
            return _compare(op, value, read_path(data, rule[op + "Path"], what=f"Choice {op}Path"))
    raise _runtime_error(f"Choice rule has no known comparison: {sorted(rule)}")


# -- results -------------------------------------------------------------------------------------------


@dataclass
class ExecutionResult:
    status: ExecutionStatus
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    execution_arn: str = ""
    start_date: str = ""
    stop_date: str = ""

    def states_entered(self) -> list[str]:
        """State names in the order they were entered (all branches interleaved by time)."""
        return [e["name"] for e in self.history if e["type"].endswith("StateEntered")]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause,
                "name": self.name, "executionArn": self.execution_arn, "startDate": self.start_date,
                "stopDate": self.stop_date}


# -- validation ----------------------------------------------------------------------------------------


def validate_definition(definition: dict[str, Any], where: str = "$") -> None:
    """Check the structure the interpreter relies on; raise AslDefinitionError naming the state."""
    if not isinstance(definition, dict):
        raise AslDefinitionError(f"{where}: a state machine must be an object")
    states = definition.get("States")
    start = definition.get("StartAt")
    if not isinstance(states, dict) or not states:
        raise AslDefinitionError(f"{where}: States must be a non-empty object")
    if start not in states:
        raise AslDefinitionError(f"{where}: StartAt {start!r} is not a state")
    for name, state in states.items():
        here = f"{where}.States[{name!r}]"
        if not isinstance(state, dict):
            raise AslDefinitionError(f"{here}: a state must be an object")
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise AslDefinitionError(f"{here}: unsupported Type {kind!r}")
        targets: list[Any] = []
        if kind == "Choice":
            choices = state.get("Choices")
            if not isinstance(choices, list) or not choices:
                raise AslDefinitionError(f"{here}: Choices must be a non-empty list")
            targets.extend(choice.get("Next") for choice in choices)
            if "Default" in state:
                targets.append(state["Default"])
        elif kind not in ("Succeed", "Fail") and state.get("End") is not True:
            if "Next" not in state:
                raise AslDefinitionError(f"{here}: needs Next or End")
            targets.append(state["Next"])
        for catcher in state.get("Catch", []):
            targets.append(catcher.get("Next"))
        for target in targets:
            if target not in states:
                raise AslDefinitionError(f"{here}: transition to unknown state {target!r}")
        if kind == "Task" and not isinstance(state.get("Resource"), str):
            raise AslDefinitionError(f"{here}: Resource must be a string")
        if kind == "Parallel":
            branches = state.get("Branches")
            if not isinstance(branches, list) or not branches:
                raise AslDefinitionError(f"{here}: Branches must be a non-empty list")
            for index, branch in enumerate(branches):
                validate_definition(branch, f"{here}.Branches[{index}]")
        if kind == "Map":
            for unsupported in ("ItemReader", "ItemBatcher"):
                if unsupported in state:
                    raise AslDefinitionError(f"{here}: {unsupported} is not supported")
            validate_definition(_processor(state), f"{here}.ItemProcessor")


# -- the interpreter -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Where a chain of states runs: the stop events of every enclosing Parallel / Map."""

    stops: tuple[threading.Event, ...] = ()

    def inner(self, stop: threading.Event) -> _Scope:
        return _Scope((*self.stops, stop))


class AslInterpreter:
    """Runs one state machine definition; each ``execute`` call is an independent execution."""

    def __init__(
        self,
        definition: dict[str, Any],
        invoker: Invoker,
        *,
        sleep: Sleep | None = None,
        max_concurrency: int = 64,
        state_machine_name: str = "mediaflow",
        max_payload_bytes: int | None = 262_144,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        validate_definition(definition)
        self.definition = definition
        self.invoker = invoker
        self.sleep = sleep
        self.max_concurrency = max(1, max_concurrency)
        self.state_machine_name = state_machine_name
        self.max_payload_bytes = max_payload_bytes
        self.on_event = on_event
        self.rng = rng or random.Random()

    def execute(
        self,
        input: Any = None,
        *,
        name: str | None = None,
        cancel: threading.Event | None = None,
        timeout_seconds: float | None = None,
    ) -> ExecutionResult:
        """Run to the end. ``cancel`` set from another thread aborts between states (status ABORTED)."""
        execution = _Execution(self, input if input is not None else {}, name or str(uuid.uuid4()),
                               cancel or threading.Event(), timeout_seconds)
        return execution.run()


class _Execution:
    def __init__(self, interpreter: AslInterpreter, input: Any, name: str, cancel: threading.Event,
                 timeout_seconds: float | None) -> None:
        self.interpreter = interpreter
        self.definition = interpreter.definition
        self.input = json.loads(json.dumps(input))
        self.name = name
        self.cancel = cancel
        self.history: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.started = time.time()
        limit = timeout_seconds if timeout_seconds is not None else self.definition.get("TimeoutSeconds")
        self.deadline = self.started + float(limit) if limit else None
        machine = interpreter.state_machine_name
        self.arn = f"arn:aws:states:local:000000000000:execution:{machine}:{name}"
        self.context_base = {
            "Execution": {"Id": self.arn, "Name": name, "StartTime": now_iso(self.started), "Input": self.input,
                          "RoleArn": "arn:aws:iam::000000000000:role/mediaflow-local"},
            "StateMachine": {"Id": f"arn:aws:states:local:000000000000:stateMachine:{machine}",
                             "Name": machine},
        }

    # -- bookkeeping ---------------------------------------------------------------------------------

    def event(self, type_: str, **details: Any) -> None:
        with self._lock:
            entry = {"id": len(self.history) + 1, "type": type_, "timestamp": now_iso(time.time()), **details}
            self.history.append(entry)
        if self.interpreter.on_event is not None:
            self.interpreter.on_event(entry)

    def context(self, state_name: str, entered: float, retry_count: int = 0) -> dict[str, Any]:
        return {**self.context_base,
                "State": {"Name": state_name, "EnteredTime": now_iso(entered), "RetryCount": retry_count}}

    def check(self, scope: _Scope) -> None:
        self.check_run()
        if any(stop.is_set() for stop in scope.stops):
            raise _Stopped()

    def check_run(self) -> None:
        """Stop for the whole execution only: a cancel or its deadline."""
        if self.cancel.is_set():
            raise _Aborted()
        if self.deadline is not None and time.time() >= self.deadline:
            raise _TimedOut()

    def pause(self, seconds: float, scope: _Scope) -> None:
        """Wait between retries (or in a Wait state), waking up for cancellation and the deadline."""
        if seconds <= 0:
            return
        if self.interpreter.sleep is not None:
            self.interpreter.sleep(seconds)
            self.check(scope)
            return
        end = time.time() + seconds
        while (remaining := end - time.time()) > 0:
            self.check(scope)
            self.cancel.wait(min(remaining, _POLL_SECONDS * 4))
        self.check(scope)

    def check_size(self, value: Any, what: str) -> None:
        limit = self.interpreter.max_payload_bytes
        if limit is not None and len(json.dumps(value, separators=(",", ":"))) > limit:
            raise StatesError("States.DataLimitExceeded", f"{what} is larger than {limit} bytes")

    # -- top level -----------------------------------------------------------------------------------

    def run(self) -> ExecutionResult:
        self.event("ExecutionStarted", input=self.input)
        status: ExecutionStatus
        output: Any = None
        error: str | None = None
        cause: str | None = None
        try:
            self.check_size(self.input, "the execution input")
            output = self.run_states(self.definition, self.input, _Scope())
            status = "SUCCEEDED"
            self.event("ExecutionSucceeded", output=output)
        except StatesError as failure:
            status, error, cause = "FAILED", failure.error, failure.cause
            self.event("ExecutionFailed", error=error, cause=cause)
        except _Aborted:
            status = "ABORTED"
            self.event("ExecutionAborted")
        except _TimedOut:
            status, error = "TIMED_OUT", "States.Timeout"
            cause = f"the execution ran past its {self.deadline and round(self.deadline - self.started, 3)} s"
            self.event("ExecutionTimedOut", error=error, cause=cause)
        except Exception as exc:  # a malformed document discovered mid-run (a bad number, a bad rule)
            status, error, cause = "FAILED", "States.Runtime", f"{type(exc).__name__}: {exc}"
            self.event("ExecutionFailed", error=error, cause=cause)
        return ExecutionResult(status=status, output=output, error=error, cause=cause, history=self.history,
                               name=self.name, execution_arn=self.arn, start_date=now_iso(self.started),
                               stop_date=now_iso(time.time()))

    def run_states(self, machine: dict[str, Any], data: Any, scope: _Scope) -> Any:
        states: dict[str, Any] = machine["States"]
        name: str = machine["StartAt"]
        while True:
            self.check(scope)
            state = states[name]
            kind = state["Type"]
            entered = time.time()
            self.event(f"{kind}StateEntered", name=name, input=data)
            if kind == "Fail":
                raise self.fail_error(state, data)
            try:
                next_name, data = self.run_state(name, state, data, scope, entered)
            except StatesError as failure:
                caught = self.catch(name, state, data, failure)
                if caught is None:
                    raise
                next_name, data = caught
            self.event(f"{kind}StateExited", name=name, output=data)
            if next_name is None:
                return data
            name = next_name

    def fail_error(self, state: dict[str, Any], data: Any) -> StatesError:
        error = state.get("Error")
        cause = state.get("Cause")
        if "ErrorPath" in state:
            error = read_path(data, state["ErrorPath"], what="Fail ErrorPath")
        if "CausePath" in state:
            cause = read_path(data, state["CausePath"], what="Fail CausePath")
        return StatesError(str(error) if error is not None else "States.Fail",
                           str(cause) if cause is not None else "")

    def catch(self, name: str, state: dict[str, Any], raw: Any,
              failure: StatesError) -> tuple[str, Any] | None:
        for catcher in state.get("Catch", []):
            if _matches(catcher.get("ErrorEquals", []), failure.error):
                output = apply_result_path(raw, failure.to_output(), catcher.get("ResultPath", _MISSING))
                self.event("CatchMatched", name=name, error=failure.error, next=catcher["Next"])
                return catcher["Next"], output
        return None

    # -- one state -----------------------------------------------------------------------------------

    def run_state(self, name: str, state: dict[str, Any], raw: Any, scope: _Scope,
                  entered: float) -> tuple[str | None, Any]:
        kind = state["Type"]
        effective = self.input_path(state, raw)
        following: str | None = None if state.get("End") else state.get("Next")
        if kind == "Choice":
            for choice in state["Choices"]:
                if evaluate_rule(choice, effective):
                    return choice["Next"], self.output_path(state, effective)
            if "Default" in state:
                return state["Default"], self.output_path(state, effective)
            raise StatesError("States.NoChoiceMatched", f"no choice rule matched in state {name!r}")
        if kind == "Succeed":
            return None, self.output_path(state, effective)
        context = self.context(name, entered)
        if kind == "Wait":
            self.pause(self.wait_seconds(state, effective), scope)
            return following, self.output_path(state, effective)
        if kind == "Pass":
            if "Parameters" in state:
                effective = fill_template(state["Parameters"], effective, context, what=f"{name}.Parameters")
            result = copy_json(state["Result"]) if "Result" in state else effective
            output = apply_result_path(raw, result, state.get("ResultPath", _MISSING))
            return following, self.output_path(state, output)
        result = self.with_retry(name, state, scope,
                                 partial(self.attempt, name, state, effective, scope, context))
        if "ResultSelector" in state:
            result = fill_template(state["ResultSelector"], result, context, what=f"{name}.ResultSelector")
        output = apply_result_path(raw, result, state.get("ResultPath", _MISSING))
        return following, self.output_path(state, output)

    def input_path(self, state: dict[str, Any], raw: Any) -> Any:
        path = state.get("InputPath", "$")
        return {} if path is None else read_path(raw, path, what="InputPath")

    def output_path(self, state: dict[str, Any], output: Any) -> Any:
        path = state.get("OutputPath", "$")
        return {} if path is None else read_path(output, path, what="OutputPath")

    def wait_seconds(self, state: dict[str, Any], data: Any) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            return float(read_path(data, state["SecondsPath"], what="Wait SecondsPath"))
        stamp = state.get("Timestamp")
        if "TimestampPath" in state:
            stamp = read_path(data, state["TimestampPath"], what="Wait TimestampPath")
        when = _timestamp(stamp)
        if when is None:
            raise _runtime_error(f"Wait needs Seconds, SecondsPath, Timestamp or TimestampPath: {stamp!r}")
        return when.timestamp() - time.time()

    def attempt(self, name: str, state: dict[str, Any], effective: Any, scope: _Scope,
                context: dict[str, Any]) -> Any:
        kind = state["Type"]
        if kind == "Task":
            return self.run_task(name, state, effective, scope, context)
        if kind == "Parallel":
            return self.run_parallel(name, state, effective, scope, context)
        return self.run_map(name, state, effective, scope, context)

    def with_retry(self, name: str, state: dict[str, Any], scope: _Scope, action: Callable[[], Any]) -> Any:
        retriers: list[dict[str, Any]] = state.get("Retry", [])
        attempts = [0] * len(retriers)
        while True:
            try:
                return action()
            except StatesError as failure:
                index = next((i for i, r in enumerate(retriers)
                              if _matches(r.get("ErrorEquals", []), failure.error)), None)
                if index is None:
                    raise
                retrier = retriers[index]
                if attempts[index] >= int(retrier.get("MaxAttempts", 3)):
                    raise
                delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** (
                    attempts[index])
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, float(retrier["MaxDelaySeconds"]))
                if retrier.get("JitterStrategy") == "FULL":
                    delay = self.interpreter.rng.uniform(0, delay)
                attempts[index] += 1
                self.event("StateRetryScheduled", name=name, error=failure.error, attempt=attempts[index],
                           delaySeconds=delay)
                self.pause(delay, scope)

    # -- Task ----------------------------------------------------------------------------------------

    def run_task(self, name: str, state: dict[str, Any], effective: Any, scope: _Scope,
                 context: dict[str, Any]) -> Any:
        payload = effective
        if "Parameters" in state:
            payload = fill_template(state["Parameters"], effective, context, what=f"{name}.Parameters")
        resource: str = state["Resource"]
        wrap_lambda = resource.startswith(LAMBDA_INVOKE)
        if wrap_lambda:
            if not isinstance(payload, dict) or "FunctionName" not in payload:
                raise _runtime_error(f"{name}: lambda:invoke needs Parameters.FunctionName")
            resource, payload = str(payload["FunctionName"]), payload.get("Payload", {})
        timeout = state.get("TimeoutSeconds")
        if "TimeoutSecondsPath" in state:
            timeout = read_path(effective, state["TimeoutSecondsPath"], what="TimeoutSecondsPath")
        self.event("TaskScheduled", name=name, resource=resource, parameters=payload)
        try:
            result = self.call(resource, payload, float(timeout) if timeout else None, scope)
        except StatesError as failure:
            self.event("TaskTimedOut" if failure.error == "States.Timeout" else "TaskFailed",
                       name=name, error=failure.error, cause=failure.cause)
            raise
        try:
            result = json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            raise _runtime_error(f"{name}: the task result is not JSON ({exc})") from None
        self.check_size(result, f"the result of {name!r}")
        self.event("TaskSucceeded", name=name, output=result)
        if wrap_lambda:
            return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
        return result

    def call(self, resource: str, payload: Any, timeout: float | None, scope: _Scope) -> Any:
        """Run the invoker on its own thread so a timeout, a cancel or a failing sibling stops the wait."""
        box: dict[str, Any] = {}
        done = threading.Event()

        # An invoker that measures the timeout itself (from when the task starts executing, not while it
        # waits for a worker) says so with ``measures_timeout``; it raises States.Timeout.
        own_timeout = bool(getattr(self.interpreter.invoker, "measures_timeout", False))

        def target() -> None:
            try:
                if own_timeout:
                    box["result"] = self.interpreter.invoker(resource, payload, timeout)  # type: ignore[call-arg]
                else:
                    box["result"] = self.interpreter.invoker(resource, payload)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        _TASK_THREADS.run(target)
        started = time.time()
        while not done.wait(_POLL_SECONDS):
            self.check_run()
            if not own_timeout and timeout is not None and time.time() - started >= timeout:
                raise StatesError("States.Timeout", f"the task did not finish within {timeout:g} seconds")
        # A failing sibling does not stop a task already running (a Lambda cannot be called back either):
        # its side effects (a stored object, a step record) land before the branch stops, so the run that
        # ends next lists them. Its result is dropped.
        self.check(scope)
        if "error" in box:
            raise task_error(box["error"])
        return box["result"]

    # -- Parallel and Map ------------------------------------------------------------------------------

    def run_parallel(self, name: str, state: dict[str, Any], effective: Any, scope: _Scope,
                     context: dict[str, Any]) -> list[Any]:
        if "Parameters" in state:
            effective = fill_template(state["Parameters"], effective, context, what=f"{name}.Parameters")
        branches: list[dict[str, Any]] = state["Branches"]
        self.event("ParallelStateStarted", name=name, branches=len(branches))
        stop = threading.Event()
        inner = scope.inner(stop)
        jobs: list[Callable[[], Any]] = [
            partial(self.run_states, branch, copy_json(effective), inner) for branch in branches]
        try:
            outcomes = self.run_all(jobs, len(jobs), stop, tolerated=None)
        except StatesError as failure:
            self.event("ParallelStateFailed", name=name, error=failure.error, cause=failure.cause)
            raise
        self.event("ParallelStateSucceeded", name=name)
        return [outcome for outcome, _ in outcomes]

    def run_map(self, name: str, state: dict[str, Any], effective: Any, scope: _Scope,
                context: dict[str, Any]) -> list[Any]:
        items = read_path(effective, state.get("ItemsPath", "$"), what="ItemsPath")
        if not isinstance(items, list):
            raise _runtime_error(f"{name}: ItemsPath must select an array, not {type(items).__name__}")
        processor = _processor(state)
        selector = state.get("ItemSelector", state.get("Parameters"))
        inputs = []
        for index, item in enumerate(items):
            if selector is None:
                inputs.append(copy_json(item))
            else:
                item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
                inputs.append(fill_template(selector, effective, item_context, what=f"{name}.ItemSelector"))
        concurrency = int(state.get("MaxConcurrency", 0)) or self.interpreter.max_concurrency
        tolerated: tuple[float | None, int | None] | None = None
        if "ToleratedFailurePercentage" in state or "ToleratedFailureCount" in state:
            tolerated = (state.get("ToleratedFailurePercentage"), state.get("ToleratedFailureCount"))
        self.event("MapStateStarted", name=name, length=len(items))
        stop = threading.Event()
        inner = scope.inner(stop)

        def iteration(index: int, item_input: Any) -> Any:
            self.event("MapIterationStarted", name=name, index=index)
            try:
                output = self.run_states(processor, item_input, inner)
            except StatesError as failure:
                self.event("MapIterationFailed", name=name, index=index, error=failure.error)
                raise
            except _Interrupt:
                self.event("MapIterationAborted", name=name, index=index)
                raise
            self.event("MapIterationSucceeded", name=name, index=index)
            return output

        jobs: list[Callable[[], Any]] = [partial(iteration, index, item_input)
                                         for index, item_input in enumerate(inputs)]
        try:
            outcomes = self.run_all(jobs, min(concurrency, self.interpreter.max_concurrency), stop, tolerated)
        except StatesError as failure:
            self.event("MapStateFailed", name=name, error=failure.error, cause=failure.cause)
            raise
        self.event("MapStateSucceeded", name=name)
        return [outcome if error is None else error.to_output() for outcome, error in outcomes]

    def run_all(self, jobs: list[Callable[[], Any]], concurrency: int, stop: threading.Event,
                tolerated: tuple[float | None, int | None] | None) -> list[tuple[Any, StatesError | None]]:
        """Run jobs on threads; on the first failure past the tolerance, stop the others and raise it."""
        if not jobs:
            return []
        outcomes: list[tuple[Any, StatesError | None]] = [(None, None)] * len(jobs)
        failures = 0
        first_error: StatesError | None = None
        interrupt: _Interrupt | None = None
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs))),
                                thread_name_prefix=f"asl-{self.name}") as pool:
            futures: dict[Future[Any], int] = {pool.submit(job): index for index, job in enumerate(jobs)}
            pending: Iterable[Future[Any]] = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = futures[future]
                    exc = future.exception()
                    if exc is None:
                        outcomes[index] = (future.result(), None)
                    elif isinstance(exc, _Stopped) and stop.is_set():
                        continue
                    elif isinstance(exc, _Interrupt):
                        interrupt = interrupt or exc
                        stop.set()
                    elif isinstance(exc, StatesError):
                        failures += 1
                        outcomes[index] = (None, exc)
                        if not _tolerated(failures, len(jobs), tolerated):
                            first_error = first_error or exc
                            stop.set()
                    else:
                        first_error = first_error or _runtime_error(f"{type(exc).__name__}: {exc}")
                        stop.set()
        if interrupt is not None:
            raise interrupt
        if first_error is not None:
            if tolerated is not None:
                raise StatesError("States.ExceedToleratedFailureThreshold",
                                  "The specified tolerated failure threshold was exceeded")
            raise first_error
        return outcomes


def _processor(state: dict[str, Any]) -> dict[str, Any]:
    processor = state.get("ItemProcessor", state.get("Iterator"))
    if not isinstance(processor, dict):
        raise AslDefinitionError("a Map state needs an ItemProcessor")
    return processor


def _tolerated(failures: int, total: int, tolerated: tuple[float | None, int | None] | None) -> bool:
    if tolerated is None:
        return False
    percentage, count = tolerated
    within_percentage = percentage is not None and failures * 100.0 / total <= float(percentage)
    within_count = count is not None and failures <= int(count)
    return within_percentage or within_count


def _matches(error_equals: list[str], error: str) -> bool:
    for name in error_equals:
        if name == error:
            return True
        if name == "States.ALL" and error not in _UNCATCHABLE_BY_WILDCARD:
            return True
        if name == "States.TaskFailed" and error not in _UNCATCHABLE_BY_WILDCARD | {"States.Timeout"}:
            return True
    return False


def run_state_machine(
    definition: dict[str, Any],
    input: Any,
    invoker: Invoker,
    **options: Any,
) -> ExecutionResult:
    """Shortcut: build an interpreter and run one execution (``options`` go to the interpreter)."""
    execute_options = {key: options.pop(key) for key in ("name", "cancel", "timeout_seconds")
                       if key in options}
    return AslInterpreter(definition, invoker, **options).execute(input, **execute_options)


__all__ = [
    "AslDefinitionError", "AslInterpreter", "ExecutionResult", "ExecutionStatus", "Invoker", "StatesError",
    "apply_result_path", "evaluate_rule", "fill_template", "lookup", "parse_path", "run_state_machine",
    "string_matches", "task_error", "validate_definition",
]

"""Structural checks of a state machine (used by tests and before a state machine is created)."""

from __future__ import annotations

from typing import Any

TERMINAL_TYPES = frozenset({"Succeed", "Fail"})
KNOWN_TYPES = frozenset({"Task", "Choice", "Parallel", "Map", "Pass", "Succeed", "Fail", "Wait"})


def _targets(state: dict[str, Any]) -> list[str]:
    targets = []
    if "Next" in state:
        targets.append(state["Next"])
    if state.get("Type") == "Choice":
        targets.extend(choice["Next"] for choice in state.get("Choices", []))
        if "Default" in state:
            targets.append(state["Default"])
    targets.extend(catch["Next"] for catch in state.get("Catch", []))
    return targets


def check_asl(machine: dict[str, Any], path: str = "") -> list[str]:
    """Every problem found: missing StartAt/targets, unreachable states, states that cannot end, loops."""
    problems: list[str] = []
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, dict) or not states:
        return [f"{path or 'machine'}: no States"]
    if start not in states:
        problems.append(f"{path or 'machine'}: StartAt {start!r} is not a state")
        return problems
    for name, state in states.items():
        where = f"{path}/{name}"
        kind = state.get("Type")
        if kind not in KNOWN_TYPES:
            problems.append(f"{where}: unknown Type {kind!r}")
        if len(name) > 80:
            problems.append(f"{where}: name longer than 80 characters")
        ends = state.get("End") is True
        if kind not in TERMINAL_TYPES and kind != "Choice" and ends == ("Next" in state):
            problems.append(f"{where}: needs exactly one of Next or End")
        if kind == "Choice" and not state.get("Choices"):
            problems.append(f"{where}: Choice without Choices")
        for target in _targets(state):
            if target not in states:
                problems.append(f"{where}: target {target!r} is not a state in this scope")
        for index, branch in enumerate(state.get("Branches", [])):
            problems.extend(check_asl(branch, f"{where}/Branches[{index}]"))
        if kind == "Map":
            problems.extend(check_asl(state.get("ItemProcessor", {}), f"{where}/ItemProcessor"))
    if problems:
        return problems
    reachable, frontier = {start}, [start]
    while frontier:
        for target in _targets(states[frontier.pop()]):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    problems.extend(f"{path}/{name}: unreachable" for name in states if name not in reachable)
    # Every state must be able to reach an end (acyclic check by iterative DFS with colours).
    colour: dict[str, int] = {}
    for root in states:
        stack = [(root, iter(_targets(states[root])))]
        colour[root] = colour.get(root, 0) or 1
        if colour[root] == 2:
            continue
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                if colour.get(child) == 1:
                    problems.append(f"{path}/{child}: loop")
                elif not colour.get(child):
                    colour[child] = 1
                    stack.append((child, iter(_targets(states[child]))))
                    advanced = True
                    break
            if not advanced:
                colour[node] = 2
                stack.pop()
    return problems

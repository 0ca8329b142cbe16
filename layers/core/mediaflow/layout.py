"""A left-to-right layered layout of a workflow's DAG (stable: the same graph gives the same positions).

Layer = the longest path from a source; within a layer, nodes are ordered by the mean row of their parents
(barycenter), ties by definition order. Positions are a grid of ``COLUMN`` x ``ROW`` pixels.
"""

from __future__ import annotations

from typing import Any

COLUMN = 250
ROW = 120
ORIGIN = (100, 100)


def layered(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    ids = [str(n["id"]) for n in nodes]
    order = {node_id: index for index, node_id in enumerate(ids)}
    parents: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for edge in edges:
        if edge.get("source") in order and edge.get("target") in order:
            parents[edge["target"]].append(edge["source"])
    layer: dict[str, int] = {}

    def depth(node_id: str, trail: frozenset[str]) -> int:
        if node_id in layer:
            return layer[node_id]
        ups = [p for p in parents[node_id] if p not in trail]  # a cycle is cut where it closes
        value = 1 + max((depth(p, trail | {node_id}) for p in ups), default=-1)
        layer[node_id] = value
        return value

    for node_id in ids:
        depth(node_id, frozenset())
    rows: dict[str, float] = {}
    positions: dict[str, dict[str, float]] = {}
    for column in range(max(layer.values(), default=-1) + 1):
        members = [n for n in ids if layer[n] == column]

        def barycenter(node_id: str) -> tuple[float, int]:
            placed = [rows[p] for p in parents[node_id] if p in rows]
            return (sum(placed) / len(placed) if placed else float(order[node_id]), order[node_id])

        for row, node_id in enumerate(sorted(members, key=barycenter)):
            rows[node_id] = row
            positions[node_id] = {"x": float(ORIGIN[0] + column * COLUMN), "y": float(ORIGIN[1] + row * ROW)}
    return positions


def next_position(nodes: list[dict[str, Any]]) -> dict[str, float]:
    """Where a node added without a position goes: one column right of the rightmost node."""
    xs = [float((n.get("position") or {}).get("x", ORIGIN[0])) for n in nodes]
    return {"x": max(xs) + COLUMN if xs else float(ORIGIN[0]), "y": float(ORIGIN[1])}

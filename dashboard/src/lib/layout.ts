/** Automatic layered layout of a workflow's DAG (left to right) with elkjs, the same family of layout as the
 * API's layout operation: layers by longest path, crossings reduced, nodes of a layer stacked. */
import type { ELK as Engine, ElkNode } from "elkjs/lib/elk.bundled.js";
import type { Position, WfEdge, WfNode } from "../api/types";

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 64;

export const LAYOUT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.spacing.nodeNodeBetweenLayers": "70",
  "elk.spacing.nodeNode": "40",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.crossingMinimization.semiInteractive": "true",
};

/** The ELK graph for a workflow: edges whose ends are missing are left out (a draft may be mid-edit). */
export function toElkGraph(nodes: WfNode[], edges: WfEdge[]): ElkNode {
  const ids = new Set(nodes.map((n) => n.id));
  return {
    id: "root",
    layoutOptions: LAYOUT_OPTIONS,
    children: nodes.map((n, index) => ({
      id: n.id,
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      layoutOptions: { "elk.position": `(${index},0)` },
    })),
    edges: edges
      .filter((e) => ids.has(e.source) && ids.has(e.target) && e.source !== e.target)
      .map((e, index) => ({ id: `e${index}`, sources: [e.source], targets: [e.target] })),
  };
}

let engine: Engine | undefined;

/** Positions (top-left corners, whole pixels) for every node. elkjs is loaded on first use (its own chunk). */
export async function layeredLayout(nodes: WfNode[], edges: WfEdge[]): Promise<Record<string, Position>> {
  if (!engine) {
    const { default: ELK } = await import("elkjs/lib/elk.bundled.js");
    engine = new ELK();
  }
  const laid = await engine.layout(toElkGraph(nodes, edges));
  const positions: Record<string, Position> = {};
  for (const child of laid.children ?? []) {
    positions[child.id] = { x: Math.round(child.x ?? 0), y: Math.round(child.y ?? 0) };
  }
  return positions;
}

/** The nodes with the computed positions applied. */
export function applyPositions(nodes: WfNode[], positions: Record<string, Position>): WfNode[] {
  return nodes.map((n) => (positions[n.id] ? { ...n, position: positions[n.id] } : n));
}

/** Whether a layout is needed: any node without a position, or all stacked on one point. */
export function needsLayout(nodes: WfNode[]): boolean {
  if (nodes.length === 0) return false;
  if (nodes.some((n) => !n.position || typeof n.position.x !== "number" || typeof n.position.y !== "number")) return true;
  const first = nodes[0].position!;
  return nodes.length > 1 && nodes.every((n) => n.position!.x === first.x && n.position!.y === first.y);
}

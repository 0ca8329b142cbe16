import { describe, expect, it } from "vitest";
import { applyPositions, layeredLayout, needsLayout, NODE_WIDTH, toElkGraph } from "./layout";
import type { WfEdge, WfNode } from "../api/types";

const NODES: WfNode[] = ["upload", "branch", "thumb", "store-thumb", "store-raw"].map((id) => ({ id, kind: id }));
const EDGES: WfEdge[] = [
  { source: "upload", target: "branch" },
  { source: "branch", target: "thumb", kind: "true" },
  { source: "thumb", target: "store-thumb" },
  { source: "branch", target: "store-raw", kind: "false" },
];

describe("layeredLayout", () => {
  it("puts each node in the layer of its longest path from the trigger, left to right", async () => {
    const at = await layeredLayout(NODES, EDGES);
    expect(Object.keys(at).sort()).toEqual([...NODES.map((n) => n.id)].sort());
    expect(at.upload.x).toBeLessThan(at.branch.x);
    expect(at.branch.x).toBeLessThan(at.thumb.x);
    expect(at.thumb.x).toBeLessThan(at["store-thumb"].x);
    // both branch targets share a layer, stacked without overlap
    expect(at.thumb.x).toBe(at["store-raw"].x);
    expect(at.thumb.y).not.toBe(at["store-raw"].y);
    // layers are at least a node's width apart
    expect(at.branch.x - at.upload.x).toBeGreaterThanOrEqual(NODE_WIDTH);
  });

  it("is stable: the same graph gives the same positions", async () => {
    expect(await layeredLayout(NODES, EDGES)).toEqual(await layeredLayout(NODES, EDGES));
  });

  it("ignores edges to missing nodes and self-loops (a draft mid-edit)", async () => {
    const graph = toElkGraph(NODES, [...EDGES, { source: "thumb", target: "gone" }, { source: "thumb", target: "thumb" }]);
    expect(graph.edges).toHaveLength(EDGES.length);
    const at = await layeredLayout([...NODES, { id: "loose", kind: "resize" }], [...EDGES, { source: "x", target: "loose" }]);
    expect(at.loose).toBeDefined();
  });

  it("knows when a layout is needed and applies positions", () => {
    expect(needsLayout(NODES)).toBe(true);
    const placed = applyPositions(NODES, Object.fromEntries(NODES.map((n, i) => [n.id, { x: i * 10, y: 0 }])));
    expect(needsLayout(placed)).toBe(false);
    expect(needsLayout(placed.map((n) => ({ ...n, position: { x: 5, y: 5 } })))).toBe(true);
    expect(needsLayout([])).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { addNode, connect, disconnect, removeNode, toWorkflowInput, uniqueId } from "./graph";
import { indexIssues } from "./issues";
import { nextDelay, RUN_BACKOFF } from "./poll";
import { filesOfItem, groupSteps, itemRows, timelineScale } from "./timeline";
import type { Definition, Run, Step } from "../api/types";

const DEF: Definition = {
  name: "w",
  nodes: [{ id: "upload", kind: "upload" }, { id: "is-image", kind: "branch" }, { id: "thumb", kind: "thumbnail" }],
  edges: [{ source: "upload", target: "is-image" }],
};

describe("graph edits", () => {
  it("adds nodes with unique ids and removes them with their edges", () => {
    expect(uniqueId("strip_metadata", ["strip-metadata"])).toBe("strip-metadata-2");
    const { def, id } = addNode(DEF, "resize", { width: 10 }, { x: 1, y: 2 });
    expect(id).toBe("resize");
    expect(def.nodes.at(-1)).toEqual({ id: "resize", kind: "resize", config: { width: 10 }, position: { x: 1, y: 2 } });
    expect(removeNode(DEF, "is-image").edges).toEqual([]);
  });

  it("connects with branch kinds, refusing loops, duplicates and cycles", () => {
    const one = connect(DEF, "is-image", "thumb", "true");
    expect(one.error).toBeUndefined();
    expect(one.def.edges.at(-1)).toEqual({ source: "is-image", target: "thumb", kind: "true" });
    expect(connect(one.def, "is-image", "thumb").error).toMatch(/already/);
    expect(connect(one.def, "thumb", "upload").error).toMatch(/cycle/);
    expect(connect(one.def, "thumb", "thumb").error).toMatch(/itself/);
    expect(connect(one.def, "thumb", "nope").error).toMatch(/exist/);
    expect(disconnect(one.def, "is-image", "thumb").edges).toEqual(DEF.edges);
  });

  it("sends only the definition's fields, positions rounded", () => {
    const input = toWorkflowInput({ ...DEF, nodes: [{ id: "a", kind: "upload", position: { x: 1.6, y: 2.2 }, label: "" }], edges: [{ source: "a", target: "b", kind: null }] });
    expect(input.nodes).toEqual([{ id: "a", kind: "upload", config: {}, position: { x: 2, y: 2 } }]);
    expect(input.edges).toEqual([{ source: "a", target: "b" }]);
  });
});

describe("validation issues", () => {
  it("lands on the node and the field they name", () => {
    const index = indexIssues([
      { path: "nodes[2].config.width", message: "must be >= 8", nodeId: "thumb", code: "invalid_value" },
      { path: "nodes[1].config", message: "conditions required" },
      { path: "nodes[2]", message: "not reachable", nodeId: "thumb" },
      { path: "edges", message: "the graph has a cycle" },
    ], DEF.nodes);
    expect(index.byField.thumb).toEqual({ width: "must be >= 8" });
    expect(index.byNode["is-image"].map((i) => i.message)).toEqual(["conditions required"]);
    expect(index.byNode.thumb).toHaveLength(2);
    expect(index.general.map((i) => i.message)).toEqual(["the graph has a cycle"]);
  });
});

describe("polling backoff", () => {
  it("speeds up on change, slows down to a ceiling, and backs off harder on errors", () => {
    expect(nextDelay(4000, true)).toBe(RUN_BACKOFF.min);
    let d = RUN_BACKOFF.min;
    for (let i = 0; i < 20; i++) d = nextDelay(d, false);
    expect(d).toBe(RUN_BACKOFF.max);
    expect(nextDelay(RUN_BACKOFF.max, false, RUN_BACKOFF, true)).toBeGreaterThan(RUN_BACKOFF.max);
    expect(nextDelay(400, false)).toBe(640);
  });
});

const step = (nodeId: string, item: number, status: string, start: number, ms: number, extra: Partial<Step> = {}): Step => ({
  nodeId, kind: nodeId, status, item, durationMs: ms,
  startedAt: new Date(1_700_000_000_000 + start).toISOString(),
  endedAt: new Date(1_700_000_000_000 + start + ms).toISOString(), ...extra,
});

describe("run timeline", () => {
  const plan = { executionType: "EXPRESS", taskStates: 1, transitionsPerRun: 2, lambdaInvocationsPerRun: 1, estimatedCostPer1000RunsUsd: 1,
    tasks: [{ state: "thumb+name+store", runtime: "vips", nodes: ["thumb", "name", "store"] }] };

  it("groups fused steps by their Task (the run's own `task` first, else the plan)", () => {
    const steps = [step("check", 0, "completed", 0, 1), step("thumb", 0, "completed", 1, 5), step("name", 0, "completed", 6, 1), step("store", 0, "completed", 7, 2),
      step("hook", 0, "completed", 9, 1, { task: "hook-task" })];
    const groups = groupSteps(steps, plan);
    expect(groups.map((g) => [g.task, g.steps.map((s) => s.nodeId)])).toEqual([
      [undefined, ["check"]], ["thumb+name+store", ["thumb", "name", "store"]], ["hook-task", ["hook"]]]);
    expect(timelineScale(steps)).toEqual({ start: 1_700_000_000_000, span: 10 });
    expect(timelineScale([])).toEqual({ start: 0, span: 1 });
  });

  it("makes one row per batch item with its status", () => {
    const run = {
      runId: "r", workflowId: "w", version: 1, status: "running", batch: true, createdAt: "",
      progress: { total: 4, completed: 1, failed: 1 },
      steps: [step("a", 0, "completed", 0, 1), step("b", 0, "completed", 1, 1), step("a", 1, "failed", 0, 3, { sourceKey: "in/2.jpg" }), step("a", 2, "running", 0, 1)],
      outputs: [{ key: "out/1.webp", filename: "1.webp", size: 1, contentType: "image/webp", url: "u1" }, { key: "runs/r/item-2/a/x.jpg", filename: "x.jpg", size: 1, contentType: "image/jpeg", url: "u2" }],
    } as Run;
    run.steps[1].output = { key: "out/1.webp" };
    const rows = itemRows(run);
    expect(rows.map((r) => r.status)).toEqual(["completed", "failed", "running", "pending"]);
    expect(rows[1]).toMatchObject({ item: 1, source: "in/2.jpg", steps: 1, durationMs: 3 });
    expect(filesOfItem(run, run.outputs, 0).map((f) => f.url)).toEqual(["u1"]);
    expect(filesOfItem(run, run.outputs, 2).map((f) => f.url)).toEqual(["u2"]);
    expect(filesOfItem({ ...run, batch: false }, run.outputs, 0)).toHaveLength(2);
  });
});

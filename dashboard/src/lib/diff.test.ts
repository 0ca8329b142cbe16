import { describe, expect, it } from "vitest";
import { canonical, diffVersions, isEmptyDiff } from "./diff";
import type { Definition } from "../api/types";

const V1: Definition = {
  name: "thumbs",
  tags: ["a"],
  nodes: [
    { id: "upload", kind: "upload", config: {}, position: { x: 0, y: 0 } },
    { id: "thumb", kind: "thumbnail", config: { width: 256, crop: "attention" } },
    { id: "store", kind: "storage", config: { prefix: "thumbs/" } },
  ],
  edges: [{ source: "upload", target: "thumb" }, { source: "thumb", target: "store" }],
};

describe("diffVersions", () => {
  it("finds no change between equal versions, whatever the key order or positions", () => {
    const same: Definition = {
      ...V1,
      nodes: V1.nodes.map((n) => ({ ...n, config: Object.fromEntries(Object.entries(n.config ?? {}).reverse()), position: { x: 9, y: 9 } })),
    };
    const diff = diffVersions(V1, same);
    expect(isEmptyDiff(diff)).toBe(true);
    expect(diff.nodesSame).toEqual(["upload", "thumb", "store"]);
  });

  it("lists added, removed and changed nodes with their fields, and edges", () => {
    const v2: Definition = {
      ...V1,
      name: "thumbs v2",
      nodes: [
        V1.nodes[0],
        { id: "thumb", kind: "thumbnail", config: { width: 512, crop: "attention", outputFormat: "webp" } },
        { id: "resize", kind: "resize", config: { width: 100 } },
      ],
      edges: [{ source: "upload", target: "thumb" }, { source: "thumb", target: "resize", kind: "true" }],
    };
    const diff = diffVersions(V1, v2);
    expect(diff.nodesAdded.map((n) => n.id)).toEqual(["resize"]);
    expect(diff.nodesRemoved.map((n) => n.id)).toEqual(["store"]);
    expect(diff.nodesChanged).toEqual([{
      id: "thumb", kind: "thumbnail", kindBefore: undefined,
      fields: [{ field: "outputFormat", before: undefined, after: "webp" }, { field: "width", before: 256, after: 512 }],
    }]);
    expect(diff.edgesAdded).toEqual([{ source: "thumb", target: "resize", kind: "true" }]);
    expect(diff.edgesRemoved).toEqual([{ source: "thumb", target: "store" }]);
    expect(diff.fieldsChanged.map((f) => f.field)).toEqual(["name"]);
  });

  it("notices a changed kind, a changed label and a branch edge flipping", () => {
    const v2: Definition = {
      ...V1,
      nodes: [V1.nodes[0], { ...V1.nodes[1], kind: "resize", label: "Small" }, V1.nodes[2]],
      edges: [{ source: "upload", target: "thumb", kind: "false" }, V1.edges[1]],
    };
    const diff = diffVersions(V1, v2);
    expect(diff.nodesChanged[0]).toMatchObject({ id: "thumb", kind: "resize", kindBefore: "thumbnail" });
    expect(diff.nodesChanged[0].fields[0]).toEqual({ field: "label", before: undefined, after: "Small" });
    expect(diff.edgesAdded).toEqual([{ source: "upload", target: "thumb", kind: "false" }]);
    expect(diff.edgesRemoved).toEqual([{ source: "upload", target: "thumb" }]);
  });

  it("serialises canonically", () => {
    expect(canonical({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
  });
});

/** What changed between two versions of a workflow, for the visual diff (computed from the two bodies). */
import type { Definition, WfEdge, WfNode } from "../api/types";

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  kind: string;
  kindBefore?: string;
  fields: FieldChange[];
}

export interface VersionDiff {
  nodesAdded: WfNode[];
  nodesRemoved: WfNode[];
  nodesChanged: NodeChange[];
  nodesSame: string[];
  edgesAdded: WfEdge[];
  edgesRemoved: WfEdge[];
  fieldsChanged: FieldChange[];
}

export function edgeKey(edge: WfEdge): string {
  return `${edge.source}->${edge.target}${edge.kind ? `:${edge.kind}` : ""}`;
}

/** Stable JSON (keys sorted) so that {a,b} and {b,a} compare equal. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function configChanges(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names
    .filter((name) => canonical(before[name]) !== canonical(after[name]))
    .map((name) => ({ field: name, before: before[name], after: after[name] }));
}

const TOP_FIELDS = ["name", "description", "tags", "trigger", "settings"] as const;

/** Positions are layout, not meaning: they are left out of the diff. */
export function diffVersions(before: Definition, after: Definition): VersionDiff {
  const old = new Map(before.nodes.map((n) => [n.id, n]));
  const now = new Map(after.nodes.map((n) => [n.id, n]));
  const nodesAdded = after.nodes.filter((n) => !old.has(n.id));
  const nodesRemoved = before.nodes.filter((n) => !now.has(n.id));
  const nodesChanged: NodeChange[] = [];
  const nodesSame: string[] = [];
  for (const node of after.nodes) {
    const previous = old.get(node.id);
    if (!previous) continue;
    const fields = configChanges(previous.config ?? {}, node.config ?? {});
    if ((previous.label ?? null) !== (node.label ?? null)) fields.unshift({ field: "label", before: previous.label, after: node.label });
    if (previous.kind !== node.kind || fields.length) {
      nodesChanged.push({ id: node.id, kind: node.kind, kindBefore: previous.kind !== node.kind ? previous.kind : undefined, fields });
    } else nodesSame.push(node.id);
  }
  const oldEdges = new Set(before.edges.map(edgeKey));
  const newEdges = new Set(after.edges.map(edgeKey));
  const fieldsChanged = TOP_FIELDS.filter((f) => canonical(before[f]) !== canonical(after[f])).map((f) => ({
    field: f,
    before: before[f],
    after: after[f],
  }));
  return {
    nodesAdded,
    nodesRemoved,
    nodesChanged,
    nodesSame,
    edgesAdded: after.edges.filter((e) => !oldEdges.has(edgeKey(e))),
    edgesRemoved: before.edges.filter((e) => !newEdges.has(edgeKey(e))),
    fieldsChanged,
  };
}

export function isEmptyDiff(diff: VersionDiff): boolean {
  return !diff.nodesAdded.length && !diff.nodesRemoved.length && !diff.nodesChanged.length && !diff.edgesAdded.length
    && !diff.edgesRemoved.length && !diff.fieldsChanged.length;
}

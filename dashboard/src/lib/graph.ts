/** Edits of a draft definition: pure functions, each returning a new definition. */
import type { Definition, Position, WfEdge, WfNode } from "../api/types";

export function uniqueId(kind: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = kind.replace(/_/g, "-");
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}-${i}`)) return `${base}-${i}`;
}

export function addNode(def: Definition, kind: string, config: Record<string, unknown>, position?: Position): { def: Definition; id: string } {
  const id = uniqueId(kind, def.nodes.map((n) => n.id));
  const node: WfNode = { id, kind, config, position: position ?? null };
  return { def: { ...def, nodes: [...def.nodes, node] }, id };
}

export function removeNode(def: Definition, id: string): Definition {
  return {
    ...def,
    nodes: def.nodes.filter((n) => n.id !== id),
    edges: def.edges.filter((e) => e.source !== id && e.target !== id),
  };
}

export function updateNode(def: Definition, id: string, change: Partial<WfNode>): Definition {
  return { ...def, nodes: def.nodes.map((n) => (n.id === id ? { ...n, ...change } : n)) };
}

/** Adds source -> target (a branch edge carries kind "true"/"false"); refuses self-loops, duplicates and cycles. */
export function connect(def: Definition, source: string, target: string, kind?: string | null): { def: Definition; error?: string } {
  if (source === target) return { def, error: "a node cannot connect to itself" };
  const ids = new Set(def.nodes.map((n) => n.id));
  if (!ids.has(source) || !ids.has(target)) return { def, error: "both nodes must exist" };
  if (def.edges.some((e) => e.source === source && e.target === target)) return { def, error: `${source} is already connected to ${target}` };
  if (reaches(def.edges, target, source)) return { def, error: `connecting ${source} to ${target} would make a cycle` };
  const edge: WfEdge = kind ? { source, target, kind } : { source, target };
  return { def: { ...def, edges: [...def.edges, edge] } };
}

export function disconnect(def: Definition, source: string, target: string): Definition {
  return { ...def, edges: def.edges.filter((e) => !(e.source === source && e.target === target)) };
}

export function reaches(edges: WfEdge[], from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const current = stack.pop()!;
    if (current === to) return true;
    if (seen.has(current)) continue;
    seen.add(current);
    for (const e of edges) if (e.source === current) stack.push(e.target);
  }
  return false;
}

/** The definition as PUT /v1/workflows/{id} takes it (only the definition's own fields). */
export function toWorkflowInput(def: Definition): Definition {
  return {
    name: def.name,
    description: def.description ?? null,
    tags: def.tags ?? [],
    nodes: def.nodes.map((n) => {
      const node: WfNode = { id: n.id, kind: n.kind, config: n.config ?? {} };
      if (n.label) node.label = n.label;
      if (n.position) node.position = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
      return node;
    }),
    edges: def.edges.map((e) => (e.kind ? { source: e.source, target: e.target, kind: e.kind } : { source: e.source, target: e.target })),
    trigger: def.trigger,
    settings: def.settings,
  };
}

import { useEffect, useMemo, useState } from "react";
import { Background, MarkerType, Position as Side, ReactFlow, type Edge, type Node } from "@xyflow/react";
import { useApi } from "../api/context";
import type { Definition, VersionInfo, Workflow } from "../api/types";
import { ErrorNote, when } from "../components/common";
import { diffVersions, edgeKey, isEmptyDiff, type VersionDiff } from "../lib/diff";
import { layeredLayout } from "../lib/layout";
import { useLoad } from "../lib/hooks";
import { Link } from "../router";

export function VersionsPage({ id }: { id: string }) {
  const api = useApi();
  const base = `/v1/workflows/${encodeURIComponent(id)}`;
  const list = useLoad(() => api.get<{ currentVersion: number; versions: VersionInfo[] }>(`${base}/versions`), [id]);
  const versions = useMemo(() => [...(list.data?.versions ?? [])].sort((a, b) => b.version - a.version), [list.data]);
  const [from, setFrom] = useState<number>();
  const [to, setTo] = useState<number>();
  useEffect(() => {
    if (versions.length && to === undefined) {
      setTo(versions[0].version);
      setFrom(versions[1]?.version ?? versions[0].version);
    }
  }, [versions, to]);
  const pair = useLoad(async () => {
    if (from === undefined || to === undefined) return undefined;
    const [a, b] = await Promise.all([api.get<Workflow>(`${base}/versions/${from}`), api.get<Workflow>(`${base}/versions/${to}`)]);
    const diff = diffVersions(a as Definition, b as Definition);
    return { diff, graph: await diffGraph(diff, b as Definition) };
  }, [from, to]);

  return (
    <section>
      <div className="page-head">
        <h1>Versions</h1>
        <Link to={`/workflows/${encodeURIComponent(id)}`} className="button">Back to the builder</Link>
      </div>
      <ErrorNote error={list.error} />
      <div className="versions-grid">
        <div className="table-wrap">
          <table aria-label="Versions" data-testid="versions-list">
            <thead><tr><th scope="col">Version</th><th scope="col">Tag</th><th scope="col">Status</th><th scope="col">Saved</th></tr></thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version} data-testid="version-row" className={v.version === to || v.version === from ? "current" : undefined}>
                  <td>v{v.version}{v.version === list.data?.currentVersion ? " (current)" : ""}</td>
                  <td>{v.versionTag ?? ""}</td>
                  <td>{v.status}</td>
                  <td>{when(v.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <div className="filters">
            <label>Compare from
              <select value={from ?? ""} onChange={(e) => setFrom(Number(e.target.value))}>
                {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
              </select>
            </label>
            <label>Compare to
              <select value={to ?? ""} onChange={(e) => setTo(Number(e.target.value))}>
                {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
              </select>
            </label>
          </div>
          <ErrorNote error={pair.error} />
          {pair.data && (
            <>
              <section className="diff-graph" aria-label={`Graph of v${to} with the changes from v${from} marked`} data-testid="version-diff-graph">
                <ReactFlow nodes={pair.data.graph.nodes} edges={pair.data.graph.edges} fitView minZoom={0.1} nodesDraggable={false}
                  nodesConnectable={false} elementsSelectable={false} nodesFocusable={false} edgesFocusable={false}
                  >
                  <Background />
                </ReactFlow>
              </section>
              <DiffView diff={pair.data.diff} from={from!} to={to!} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}

function show(value: unknown): string {
  if (value === undefined) return "(unset)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function DiffView({ diff, from, to }: { diff: VersionDiff; from: number; to: number }) {
  return (
    <section aria-label={`Changes from v${from} to v${to}`} data-testid="version-diff" className="diff">
      <h2>v{from} → v{to}</h2>
      {isEmptyDiff(diff) && <p className="muted">No changes.</p>}
      <ul className="diff-nodes">
        {diff.nodesAdded.map((n) => <li key={`a-${n.id}`} className="added"><span className="sign" aria-hidden="true">+</span> node <strong>{n.id}</strong> ({n.kind}) added</li>)}
        {diff.nodesRemoved.map((n) => <li key={`r-${n.id}`} className="removed"><span className="sign" aria-hidden="true">−</span> node <strong>{n.id}</strong> ({n.kind}) removed</li>)}
        {diff.nodesChanged.map((n) => (
          <li key={`c-${n.id}`} className="changed">
            <span className="sign" aria-hidden="true">~</span> node <strong>{n.id}</strong> ({n.kindBefore ? `${n.kindBefore} → ` : ""}{n.kind}) changed
            <ul>{n.fields.map((f) => <li key={f.field}><code>{f.field}</code>: <del>{show(f.before)}</del> → <ins>{show(f.after)}</ins></li>)}</ul>
          </li>
        ))}
        {diff.nodesSame.map((id) => <li key={`s-${id}`} className="same">node {id} unchanged</li>)}
        {diff.edgesAdded.map((e) => <li key={`ea-${e.source}-${e.target}`} className="added"><span className="sign" aria-hidden="true">+</span> edge {e.source} → {e.target}{e.kind ? ` (${e.kind})` : ""}</li>)}
        {diff.edgesRemoved.map((e) => <li key={`er-${e.source}-${e.target}`} className="removed"><span className="sign" aria-hidden="true">−</span> edge {e.source} → {e.target}{e.kind ? ` (${e.kind})` : ""}</li>)}
        {diff.fieldsChanged.map((f) => <li key={`f-${f.field}`} className="changed"><span className="sign" aria-hidden="true">~</span> {f.field}: <del>{show(f.before)}</del> → <ins>{show(f.after)}</ins></li>)}
      </ul>
    </section>
  );
}

/** The newer version's graph plus what the older one had and lost, each node and edge marked by its change. */
async function diffGraph(diff: VersionDiff, after: Definition): Promise<{ nodes: Node[]; edges: Edge[] }> {
  const changed = new Set(diff.nodesChanged.map((n) => n.id));
  const added = new Set(diff.nodesAdded.map((n) => n.id));
  const all = [...after.nodes, ...diff.nodesRemoved];
  const addedEdges = new Set(diff.edgesAdded.map(edgeKey));
  const edges = [...after.edges, ...diff.edgesRemoved];
  const at = await layeredLayout(all, edges);
  const removed = new Set(diff.nodesRemoved.map((n) => n.id));
  const state = (id: string) => (added.has(id) ? "added" : removed.has(id) ? "removed" : changed.has(id) ? "changed" : "same");
  const sign: Record<string, string> = { added: "+ ", removed: "− ", changed: "~ ", same: "" };
  return {
    nodes: all.map((n) => ({
      id: n.id,
      position: at[n.id] ?? { x: 0, y: 0 },
      data: { label: `${sign[state(n.id)]}${n.id} (${n.kind})` },
      className: `diff-node diff-${state(n.id)}`,
      connectable: false,
      sourcePosition: Side.Right,
      targetPosition: Side.Left,
    })),
    edges: edges.map((e, index) => {
      const kind = addedEdges.has(edgeKey(e)) ? "added" : index >= after.edges.length ? "removed" : "same";
      return { id: `${edgeKey(e)}#${index}`, source: e.source, target: e.target, label: e.kind || undefined,
        className: `diff-edge-${kind}`, markerEnd: { type: MarkerType.ArrowClosed } };
    }),
  };
}

import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position as Side,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import { ApiError, messageOf } from "../api/client";
import { useApi } from "../api/context";
import type { CatalogNode, CheckResult, Definition, Plan, RunAccepted, RunList, WfNode, Workflow } from "../api/types";
import { ConfigForm } from "../components/ConfigForm";
import { ErrorNote, StatusBadge, useToast, when } from "../components/common";
import { canonical } from "../lib/diff";
import { addNode, connect, disconnect, removeNode, toWorkflowInput, updateNode } from "../lib/graph";
import { useDebounced, useLoad } from "../lib/hooks";
import { indexIssues } from "../lib/issues";
import { applyPositions, layeredLayout, needsLayout } from "../lib/layout";
import { Link, navigate } from "../router";
import { startBatchOfSamples, startFileRun, startSampleRun } from "../lib/runs";

interface NodeData extends Record<string, unknown> {
  node: WfNode;
  spec?: CatalogNode;
  errors: string[];
  /** has true/false edges out (so draws both handles even before the catalog has said it is a choice) */
  branching: boolean;
}

const DRAG_TYPE = "application/x-mediaflow-kind";

function WorkflowNode({ data, selected }: NodeProps<Node<NodeData>>) {
  const { node, spec, errors, branching } = data;
  const isChoice = spec?.role === "choice" || branching;
  const isTrigger = spec?.role === "trigger";
  return (
    <div className={`wf-node ${errors.length ? "invalid" : "valid"} ${selected ? "selected" : ""} cat-${spec?.category ?? "x"}`}
      data-testid={`node-${node.id}`} data-status={errors.length ? "invalid" : "valid"}>
      {!isTrigger && <Handle type="target" position={Side.Left} />}
      <div className="wf-node-title">{node.label || node.id}</div>
      <div className="wf-node-kind">{node.kind}{spec ? ` · ${spec.runtime}` : ""}</div>
      {errors.length > 0 && <div className="wf-node-error" data-testid={`node-error-${node.id}`} title={errors.join("\n")}>{errors[0]}</div>}
      {isChoice ? (
        <>
          <Handle type="source" id="true" position={Side.Right} style={{ top: "35%" }} />
          <Handle type="source" id="false" position={Side.Right} style={{ top: "75%" }} />
        </>
      ) : (
        <Handle type="source" position={Side.Right} />
      )}
    </div>
  );
}

const NODE_TYPES = { mf: WorkflowNode };

export function BuilderPage({ id }: { id: string }) {
  return (
    <ReactFlowProvider>
      <Builder id={id} />
    </ReactFlowProvider>
  );
}

function Builder({ id }: { id: string }) {
  const api = useApi();
  const toast = useToast();
  const flow = useReactFlow();
  const catalog = useLoad(() => api.get<{ nodes: CatalogNode[]; categories?: { category: string; kinds: string[] }[] }>("/v1/nodes"), []);
  const [saved, setSaved] = useState<Workflow>();
  const [draft, setDraft] = useState<Definition>();
  const [loadError, setLoadError] = useState<unknown>();
  const [selected, setSelected] = useState<string>();
  const [check, setCheck] = useState<CheckResult>();
  const [checkError, setCheckError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [saveStatus, setSaveStatus] = useState<string>();
  const [connectTo, setConnectTo] = useState("");
  const [edgeKind, setEdgeKind] = useState("true");
  const [graphError, setGraphError] = useState<string>();
  const liveCheck = useRef(true);
  const [baseline, setBaseline] = useState<string>();
  const [tagsText, setTagsText] = useState<string>();

  const specs = useMemo(() => new Map((catalog.data?.nodes ?? []).map((n) => [n.kind, n])), [catalog.data]);

  // load, laying the graph out when positions are missing
  useEffect(() => {
    let live = true;
    api.get<Workflow>(`/v1/workflows/${encodeURIComponent(id)}`).then(async (workflow) => {
      let nodes = workflow.nodes;
      if (needsLayout(nodes)) nodes = applyPositions(nodes, await layeredLayout(nodes, workflow.edges));
      if (!live) return;
      const loaded = { ...toWorkflowInput(workflow), nodes: toWorkflowInput({ ...workflow, nodes }).nodes };
      setSaved(workflow);
      setDraft(loaded);
      setBaseline(canonical(loaded));
    }).catch((error) => live && setLoadError(error));
    return () => {
      live = false;
    };
  }, [api, id]);

  const meaning = useMemo(() => (draft ? canonical({ ...draft, nodes: draft.nodes.map(({ position: _p, ...rest }) => rest) }) : ""), [draft]);
  const savedMeaning = useMemo(() => (saved ? canonical({ ...toWorkflowInput(saved), nodes: toWorkflowInput(saved).nodes.map(({ position: _p, ...rest }) => rest) }) : ""), [saved]);
  // what was loaded or last saved (positions from an automatic layout on load are not a change of the user's)
  const dirty = Boolean(draft && baseline && canonical(toWorkflowInput(draft)) !== baseline);
  const settledMeaning = useDebounced(meaning, 300);

  // live validation + plan of the draft as it is now
  useEffect(() => {
    if (!draft || !settledMeaning) return;
    let live = true;
    const run = async () => {
      try {
        if (liveCheck.current) {
          const result = await api.post<CheckResult>("/v1/workflows/check", toWorkflowInput(draft));
          if (live) {
            setCheck(result);
            setCheckError(undefined);
          }
          return;
        }
      } catch (error) {
        if (error instanceof ApiError && (error.status === 404 || error.status === 405)) liveCheck.current = false;
        else {
          if (live) setCheckError(messageOf(error));
          return;
        }
      }
      // an API without the draft check: validate and plan the saved version
      if (settledMeaning !== savedMeaning) {
        if (live) setCheckError("save to validate and plan this change");
        return;
      }
      const [validation, plan] = await Promise.all([
        api.post<CheckResult>(`/v1/workflows/${encodeURIComponent(id)}/validate`),
        api.get<Plan>(`/v1/workflows/${encodeURIComponent(id)}/plan`).catch(() => null),
      ]);
      if (live) {
        setCheck({ ...validation, plan: validation.valid ? plan : null });
        setCheckError(undefined);
      }
    };
    void run();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settledMeaning, savedMeaning]);

  const issues = useMemo(() => indexIssues(check?.errors ?? [], draft?.nodes ?? []), [check, draft?.nodes]);

  const rfNodes: Node<NodeData>[] = useMemo(() => (draft?.nodes ?? []).map((node) => ({
    id: node.id,
    type: "mf",
    position: node.position ?? { x: 0, y: 0 },
    data: {
      node,
      spec: specs.get(node.kind),
      errors: (issues.byNode[node.id] ?? []).map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)),
      branching: (draft?.edges ?? []).some((e) => e.source === node.id && (e.kind === "true" || e.kind === "false")),
    },
    selected: node.id === selected,
    ariaLabel: `${node.kind} node ${node.id}`,
  })), [draft?.nodes, draft?.edges, specs, issues, selected]);

  const rfEdges: Edge[] = useMemo(() => (draft?.edges ?? []).map((e) => ({
    id: `${e.source}~${e.target}`,
    source: e.source,
    target: e.target,
    sourceHandle: e.kind === "true" || e.kind === "false" ? e.kind : undefined,
    label: e.kind || undefined,
    className: e.kind ? `edge-${e.kind}` : undefined,
    markerEnd: { type: MarkerType.ArrowClosed },
    ariaLabel: `${e.source} to ${e.target}${e.kind ? ` (${e.kind})` : ""}`,
  })), [draft?.edges]);

  const onNodesChange = useCallback((changes: NodeChange<Node<NodeData>>[]) => {
    setDraft((current) => {
      if (!current) return current;
      let next = current;
      for (const change of changes) {
        if (change.type === "position" && change.position) {
          next = updateNode(next, change.id, { position: { x: change.position.x, y: change.position.y } });
        } else if (change.type === "remove") {
          next = removeNode(next, change.id);
        }
      }
      return next;
    });
    for (const change of changes) {
      if (change.type === "select" && change.selected) setSelected(change.id);
      if (change.type === "remove") setSelected((s) => (s === change.id ? undefined : s));
    }
  }, []);

  const doConnect = useCallback((source: string, target: string, kind?: string | null) => {
    setDraft((current) => {
      if (!current) return current;
      const sourceSpec = specs.get(current.nodes.find((n) => n.id === source)?.kind ?? "");
      const result = connect(current, source, target, sourceSpec?.role === "choice" ? kind || "true" : undefined);
      setGraphError(result.error);
      return result.def;
    });
  }, [specs]);

  const onConnect = useCallback((c: Connection) => doConnect(c.source, c.target, c.sourceHandle), [doConnect]);

  const addKind = useCallback((kind: string, position?: { x: number; y: number }) => {
    if (!draft) return;
    const anchor = draft.nodes.find((n) => n.id === selected) ?? draft.nodes[draft.nodes.length - 1];
    const lowest = draft.nodes.reduce((max, n) => Math.max(max, n.position?.y ?? 0), 0);
    const where = position ?? { x: anchor?.position?.x ?? 0, y: lowest + 110 };
    const result = addNode(draft, kind, {}, where);
    setDraft(result.def);
    setSelected(result.id);
    setConnectTo("");
    setGraphError(undefined);
    if (!position) setTimeout(() => void flow.fitView({ padding: 0.2, duration: 200 }), 30);
  }, [draft, selected, flow]);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    const kind = event.dataTransfer.getData(DRAG_TYPE);
    if (kind) addKind(kind, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  const relayout = async () => {
    if (!draft) return;
    const positions = await layeredLayout(draft.nodes, draft.edges);
    setDraft((current) => (current ? { ...current, nodes: applyPositions(current.nodes, positions) } : current));
    setTimeout(() => flow.fitView({ padding: 0.2 }), 50);
  };

  const save = async (): Promise<Workflow | undefined> => {
    if (!draft || !saved) return undefined;
    setSaving(true);
    try {
      const sent = toWorkflowInput(draft);
      const result = await api.put<Workflow>(`/v1/workflows/${encodeURIComponent(id)}`, sent, { headers: { "If-Match": `"${saved.version}"` } });
      setSaved(result);
      setBaseline(canonical(sent));
      setSaveStatus(`Saved version ${result.version}`);
      toast(`Saved version ${result.version}`);
      return result;
    } catch (error) {
      const text = error instanceof ApiError && (error.status === 409 || error.status === 412)
        ? "Someone else changed this workflow; reload to see their version." : messageOf(error);
      setSaveStatus(undefined);
      toast(text, "error");
      return undefined;
    } finally {
      setSaving(false);
    }
  };

  if (loadError) return <><h1>Workflow</h1><ErrorNote error={loadError} /><Link to="/workflows">Back to workflows</Link></>;
  if (!draft || !saved) return <p role="status">Loading the workflow...</p>;

  const node = draft.nodes.find((n) => n.id === selected);
  const nodeSpec = node ? specs.get(node.kind) : undefined;
  const categories = groupByCategory(catalog.data?.nodes ?? [], catalog.data?.categories);
  const outgoing = node ? draft.edges.filter((e) => e.source === node.id) : [];
  const incoming = node ? draft.edges.filter((e) => e.target === node.id) : [];
  const plan = check?.plan ?? null;
  const errorCount = check?.errors.length ?? 0;

  return (
    <div className="builder">
      <div className="page-head">
        <h1>
          <label className="visually-hidden" htmlFor="wf-name">Workflow name</label>
          <input id="wf-name" className="title-input" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        </h1>
        <StatusBadge status={saved.status} testId="workflow-status" />
        <span className="muted">v{saved.version}{dirty ? " · unsaved changes" : ""}</span>
        <div className="spacer" />
        <button type="button" onClick={relayout}>Auto layout</button>
        <Link to={`/workflows/${encodeURIComponent(id)}/versions`} className="button">Versions</Link>
        <button type="button" className="primary" onClick={() => void save()} disabled={!dirty || saving}>Save</button>
      </div>
      <div className="meta-row">
        <label>Description
          <input value={draft.description ?? ""} maxLength={2000} onChange={(e) => setDraft({ ...draft, description: e.target.value || null })} />
        </label>
        <label>Tags
          <input value={tagsText ?? (draft.tags ?? []).join(", ")} placeholder="comma, separated"
            onChange={(e) => {
              setTagsText(e.target.value);
              setDraft({ ...draft, tags: e.target.value.split(",").map((t) => t.trim()).filter(Boolean) });
            }} />
        </label>
      </div>
      <p role="status" className="save-status" data-testid="save-status">{saveStatus ?? ""}</p>
      <div className="builder-grid">
        <aside aria-label="Node palette" className="palette">
          <h2>Nodes</h2>
          <ErrorNote error={catalog.error} />
          {categories.map(([category, nodes]) => (
            <div role="group" aria-label={category} key={category} className="palette-group">
              <h3>{category}</h3>
              {nodes.map((spec) => (
                <button key={spec.kind} type="button" className="palette-item" aria-label={`Add ${spec.kind}`} title={spec.summary}
                  data-testid={`palette-${spec.kind}`} draggable
                  onDragStart={(e) => {
                    e.dataTransfer.setData(DRAG_TYPE, spec.kind);
                    e.dataTransfer.effectAllowed = "copy";
                  }}
                  onClick={() => addKind(spec.kind)}>
                  {spec.kind}
                </button>
              ))}
            </div>
          ))}
        </aside>
        <section className="canvas" aria-label="Workflow graph" data-testid="canvas" onDrop={onDrop} onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = "copy";
        }}>
          <ReactFlow<Node<NodeData>, Edge>
            nodes={rfNodes}
            edges={rfEdges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onEdgesChange={(changes) => {
              for (const change of changes) {
                if (change.type === "remove") {
                  const [source, target] = change.id.split("~");
                  setDraft((current) => (current ? disconnect(current, source, target) : current));
                }
              }
            }}
            onConnect={onConnect}
            onPaneClick={() => setSelected(undefined)}
            fitView
            fitViewOptions={{ padding: 0.2 }}
            minZoom={0.1}
            maxZoom={2}
            deleteKeyCode={["Delete"]}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </section>
        <aside className="inspector" aria-label="Inspector">
          <section aria-label="Validation" className="panel">
            <h2>Check</h2>
            <p role="status" data-testid="validation-status" data-valid={check ? String(check.valid) : undefined}
              className={check ? (check.valid ? "ok" : "bad") : "muted"}>
              {check ? (check.valid ? "Valid" : `Invalid: ${errorCount} error${errorCount === 1 ? "" : "s"}`) : "Checking..."}
            </p>
            {checkError && <p className="muted">{checkError}</p>}
            {check && (check.errors.length > 0 || check.warnings.length > 0) && (
              <ul data-testid="validation-errors" className="issues">
                {check.errors.map((issue, index) => (
                  <li key={`e${index}`} className="bad">
                    {issue.nodeId ? <button type="button" className="link" onClick={() => setSelected(issue.nodeId!)}>{issue.nodeId}</button> : null}
                    {issue.nodeId ? ": " : ""}{issue.message} <span className="muted small">{issue.path}</span>
                  </li>
                ))}
                {check.warnings.map((issue, index) => <li key={`w${index}`} className="warn">{issue.nodeId ? `${issue.nodeId}: ` : ""}{issue.message}</li>)}
              </ul>
            )}
          </section>
          <PlanPanel plan={plan} valid={check?.valid} />
          <section aria-label="Node" className="panel">
            <h2>{node ? `Node ${node.id}` : "Node"}</h2>
            <label htmlFor="node-pick">Edit node</label>
            <select id="node-pick" value={selected ?? ""} onChange={(e) => setSelected(e.target.value || undefined)}>
              <option value="">(choose a node)</option>
              {draft.nodes.map((n) => <option key={n.id} value={n.id}>{n.id} ({n.kind})</option>)}
            </select>
            {node && (
              <>
                <p className="muted small">{nodeSpec?.summary}</p>
                <div className="field">
                  <label htmlFor={`label-${node.id}`}>Label</label>
                  <input id={`label-${node.id}`} value={node.label ?? ""} onChange={(e) => setDraft(updateNode(draft, node.id, { label: e.target.value || null }))} />
                </div>
                <ConfigForm node={node} spec={nodeSpec} serverErrors={issues.byField[node.id] ?? {}}
                  onChange={(config) => setDraft((current) => (current ? updateNode(current, node.id, { config }) : current))} />
                <h3>Connections</h3>
                <div className="connect-row">
                  <div className="field">
                    <label htmlFor="connect-to">Connect to</label>
                    <select id="connect-to" value={connectTo} onChange={(e) => setConnectTo(e.target.value)}>
                      <option value="">(choose a node)</option>
                      {draft.nodes.filter((n) => n.id !== node.id).map((n) => <option key={n.id} value={n.id}>{n.id}</option>)}
                    </select>
                  </div>
                  {nodeSpec?.role === "choice" && (
                    <div className="field">
                      <label htmlFor="edge-kind">Edge</label>
                      <select id="edge-kind" value={edgeKind} onChange={(e) => setEdgeKind(e.target.value)}>
                        <option value="true">true</option>
                        <option value="false">false</option>
                      </select>
                    </div>
                  )}
                  <button type="button" disabled={!connectTo} onClick={() => {
                    doConnect(node.id, connectTo, edgeKind);
                    setConnectTo("");
                  }}>Connect</button>
                </div>
                <div className="connect-row">
                  <div className="field">
                    <label htmlFor="connect-from">Connect from</label>
                    <select id="connect-from" value="" onChange={(e) => e.target.value && doConnect(e.target.value, node.id, "true")}>
                      <option value="">(choose a node)</option>
                      {draft.nodes.filter((n) => n.id !== node.id).map((n) => <option key={n.id} value={n.id}>{n.id}</option>)}
                    </select>
                  </div>
                </div>
                {graphError && <p role="alert" className="error">{graphError}</p>}
                <ul className="edges">
                  {[...incoming, ...outgoing].map((e) => (
                    <li key={`${e.source}~${e.target}`}>
                      {e.source} → {e.target}{e.kind ? ` (${e.kind})` : ""}{" "}
                      <button type="button" className="link" aria-label={`Disconnect ${e.source} to ${e.target}`}
                        onClick={() => setDraft(disconnect(draft, e.source, e.target))}>Disconnect</button>
                    </li>
                  ))}
                </ul>
                <button type="button" className="danger" onClick={() => {
                  setDraft(removeNode(draft, node.id));
                  setSelected(undefined);
                }}>Delete node</button>
              </>
            )}
          </section>
          <TestRunPanel workflowId={id} dirty={dirty} save={save} status={saved.status} />
        </aside>
      </div>
    </div>
  );
}

function groupByCategory(nodes: CatalogNode[], given?: { category: string; kinds: string[] }[]): [string, CatalogNode[]][] {
  if (given?.length) {
    const byKind = new Map(nodes.map((n) => [n.kind, n]));
    return given.map((g) => [g.category, g.kinds.map((k) => byKind.get(k)).filter((n): n is CatalogNode => Boolean(n))]);
  }
  const order = ["trigger", "image", "video", "audio", "document", "logic", "utility", "delivery"];
  const groups = new Map<string, CatalogNode[]>();
  for (const node of nodes) {
    if (!groups.has(node.category)) groups.set(node.category, []);
    groups.get(node.category)!.push(node);
  }
  return [...groups.entries()].sort(([a], [b]) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
}

function PlanPanel({ plan, valid }: { plan: Plan | null; valid: boolean | undefined }) {
  return (
    <section aria-label="Plan" className="panel" data-testid="plan-panel">
      <h2>Plan</h2>
      {!plan ? (
        <p className="muted">{valid === false ? "Fix the errors to see the plan." : "Planning..."}</p>
      ) : (
        <>
          <dl className="plan">
            <dt>Execution</dt><dd data-testid="plan-execution-type">{plan.executionType}</dd>
            <dt>Task states</dt><dd data-testid="plan-task-states">{plan.taskStates}</dd>
            <dt>Transitions / run</dt><dd data-testid="plan-transitions">{plan.transitionsPerRun}</dd>
            <dt>Lambda calls / run</dt><dd>{plan.lambdaInvocationsPerRun}</dd>
            <dt>Cost / 1,000 runs</dt><dd data-testid="plan-cost">${plan.estimatedCostPer1000RunsUsd.toFixed(4)}</dd>
          </dl>
          <details className="plan-tasks-details">
          <summary>Tasks after fusion ({plan.tasks.length})</summary>
          <ol className="plan-tasks" aria-label="Task states">
            {plan.tasks.map((task) => (
              <li key={task.state} data-testid="plan-task">
                <strong>{task.state}</strong> <span className="muted small">{task.runtime}{task.fallback ? " · fallback" : ""}</span>
                <div className="small">{task.nodes.join(" → ")}</div>
              </li>
            ))}
          </ol>
          </details>
        </>
      )}
    </section>
  );
}

function TestRunPanel({ workflowId, dirty, save, status }: { workflowId: string; dirty: boolean; save: () => Promise<Workflow | undefined>; status: string }) {
  const api = useApi();
  const toast = useToast();
  const [sampleType, setSampleType] = useState("image");
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  const runs = useLoad(() => api.get<RunList>(`/v1/workflows/${encodeURIComponent(workflowId)}/runs?limit=5`), [workflowId]);

  const start = async (how: () => Promise<RunAccepted>) => {
    setBusy(true);
    try {
      if (dirty && !(await save())) return;
      const accepted = await how();
      navigate(`/runs/${encodeURIComponent(accepted.runId)}`);
    } catch (error) {
      toast(messageOf(error), "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-label="Test run" className="panel">
      <h2>Test run</h2>
      {status === "paused" && <p className="muted">The workflow is paused: resume it to run.</p>}
      <div className={`dropzone ${over ? "over" : ""}`} data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          setFiles([...e.dataTransfer.files]);
        }}>
        <label htmlFor="run-file">Input file</label>
        <input id="run-file" type="file" multiple onChange={(e) => setFiles([...(e.target.files ?? [])])} />
        <p className="muted small">{files.length ? files.map((f) => f.name).join(", ") : "or drop files here"}</p>
      </div>
      <button type="button" disabled={busy || !files.length} onClick={() => start(() => startFileRun(api, workflowId, files))}>Run file</button>
      <div className="field">
        <label htmlFor="sample-type">Sample media</label>
        <select id="sample-type" value={sampleType} onChange={(e) => setSampleType(e.target.value)}>
          {["image", "video", "audio", "document"].map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
      </div>
      <div className="actions">
        <button type="button" disabled={busy} onClick={() => start(() => startSampleRun(api, workflowId, sampleType))}>Run sample</button>
        <button type="button" disabled={busy} onClick={() => start(() => startBatchOfSamples(api, workflowId, sampleType, 10))}>Run batch of 10 samples</button>
      </div>
      <h3>Recent runs</h3>
      {(runs.data?.runs ?? []).length === 0 ? <p className="muted small">None yet.</p> : (
        <ul className="recent-runs">
          {runs.data!.runs.map((r) => (
            <li key={r.runId}>
              <Link to={`/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</Link> <StatusBadge status={r.status} /> <span className="small muted">v{r.version} · {when(r.createdAt)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

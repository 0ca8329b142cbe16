import { useState } from "react";
import { messageOf } from "../api/client";
import { useApi } from "../api/context";
import type { RunList, Template, Workflow, WorkflowList } from "../api/types";
import { Confirm, Dialog, ErrorNote, StatusBadge, useToast, when } from "../components/common";
import { useDebounced, useLoad } from "../lib/hooks";
import { Link, navigate } from "../router";

const STATUSES = ["", "draft", "active", "paused", "archived"];
const PAGE = 25;

export function WorkflowsPage() {
  const api = useApi();
  const toast = useToast();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const [tag, setTag] = useState("");
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Workflow>();
  const query = useDebounced(search, 250);
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (query) params.set("search", query);
  if (status) params.set("status", status);
  if (tag) params.set("tag", tag);
  const list = useLoad(() => api.get<WorkflowList>(`/v1/workflows?${params}`), [query, status, tag]);

  const act = async (label: string, call: () => Promise<unknown>) => {
    try {
      await call();
      toast(label);
      await list.reload();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  };

  const workflows = list.data?.workflows ?? [];
  return (
    <section>
      <div className="page-head">
        <h1>Workflows</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>New workflow</button>
      </div>
      <div className="filters" role="search">
        <label>
          Search workflows
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => <option key={s || "any"} value={s}>{s || "any"}</option>)}
          </select>
        </label>
        {tag && (
          <button type="button" onClick={() => setTag("")}>Clear tag filter: {tag}</button>
        )}
      </div>
      <ErrorNote error={list.error} />
      <div className="table-wrap">
        <table aria-label="Workflows" aria-busy={list.loading}>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Check</th><th scope="col">Tags</th><th scope="col">Last run</th><th scope="col">Actions</th></tr>
          </thead>
          <tbody>
            {workflows.map((w) => {
              const name = w.name || w.id;
              return (
                <tr key={w.id} data-testid="workflow-row" data-workflow-id={w.id}>
                  <td><Link to={`/workflows/${encodeURIComponent(w.id)}`}>{name}</Link><div className="muted small">{w.nodeCount} nodes · v{w.version}</div></td>
                  <td><StatusBadge status={w.status} testId="workflow-status" /></td>
                  <td><span className={`badge ${w.valid ? "badge-valid" : "badge-invalid"}`} data-testid="workflow-valid">{w.valid ? "valid" : "invalid"}</span></td>
                  <td>{(w.tags ?? []).map((t) => <button key={t} type="button" className="tag" onClick={() => setTag(t)} aria-label={`Filter by tag ${t}`}>{t}</button>)}</td>
                  <td><LastRun workflow={w} /></td>
                  <td className="row-actions">
                    <button type="button" aria-label={`Duplicate ${name}`} onClick={() => act(`Duplicated ${name}`, () => api.post(`/v1/workflows/${w.id}/duplicate`))}>Duplicate</button>
                    {w.status === "active" ? (
                      <button type="button" aria-label={`Pause ${name}`} onClick={() => act(`Paused ${name}`, () => api.put(`/v1/workflows/${w.id}/status`, { status: "paused" }))}>Pause</button>
                    ) : (
                      <button type="button" aria-label={`${w.status === "paused" ? "Resume" : "Activate"} ${name}`} onClick={() => act(`Activated ${name}`, () => api.put(`/v1/workflows/${w.id}/status`, { status: "active" }))}>{w.status === "paused" ? "Resume" : "Activate"}</button>
                    )}
                    {w.status !== "archived" && (
                      <button type="button" aria-label={`Archive ${name}`} onClick={() => act(`Archived ${name}`, () => api.put(`/v1/workflows/${w.id}/status`, { status: "archived" }))}>Archive</button>
                    )}
                    <button type="button" className="danger" aria-label={`Delete ${name}`} onClick={() => setDeleting(w)}>Delete</button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!list.loading && workflows.length === 0 && !list.error && <p className="muted">No workflows{query || status || tag ? " match" : " yet: create one from a template"}.</p>}
      {list.data && list.data.count > workflows.length && <p className="muted">Showing {workflows.length} of {list.data.count}; refine the search.</p>}
      {creating && <CreateDialog onClose={() => setCreating(false)} />}
      {deleting && (
        <Confirm
          title="Delete workflow?"
          message={<>Delete <strong>{deleting.name || deleting.id}</strong>? Its runs are kept; the definition and its versions are not.</>}
          confirm="Delete"
          onConfirm={async () => {
            await api.delete(`/v1/workflows/${deleting.id}`);
            toast(`Deleted ${deleting.name || deleting.id}`);
            await list.reload();
          }}
          onClose={() => setDeleting(undefined)}
        />
      )}
    </section>
  );
}

function CreateDialog({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const templates = useLoad(() => api.get<{ templates: Template[] }>("/v1/workflows/templates"), []);
  const [name, setName] = useState("");
  const [from, setFrom] = useState("blank");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="New workflow" onClose={onClose}>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            const created = from === "blank"
              ? await api.post<Workflow>("/v1/workflows", { name: name || "Untitled workflow", nodes: [{ id: "upload", kind: "upload", config: {} }], edges: [] })
              : await api.post<Workflow>(`/v1/workflows/templates/${encodeURIComponent(from)}`, name ? { name } : {});
            onClose();
            navigate(`/workflows/${encodeURIComponent(created.id)}`);
          } catch (caught) {
            setError(messageOf(caught));
            setBusy(false);
          }
        }}
      >
        <label htmlFor="new-name">Name</label>
        <input id="new-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
        <fieldset className="templates">
          <legend>Start from</legend>
          <label className="choice">
            <input type="radio" name="from" value="blank" checked={from === "blank"} onChange={() => setFrom("blank")} />
            <span><strong>Blank</strong><span className="muted small"> an upload trigger and nothing else</span></span>
          </label>
          {(templates.data?.templates ?? []).map((t) => (
            <label key={t.id} className="choice">
              <input type="radio" name="from" value={t.id} checked={from === t.id} onChange={() => setFrom(t.id)} />
              <span><strong>{t.name}</strong>{t.description && <span className="muted small"> {t.description}</span>}</span>
            </label>
          ))}
        </fieldset>
        <ErrorNote error={templates.error} />
        {error && <p role="alert" className="error">{error}</p>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>Create</button>
          <button type="button" data-close onClick={onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

/** The newest run of a workflow: from the list row when the API gives it, else asked for. */
function LastRun({ workflow }: { workflow: Workflow }) {
  const api = useApi();
  const known = workflow.lastRunId !== undefined;
  const runs = useLoad(
    () => (known ? Promise.resolve(null) : api.get<RunList>(`/v1/workflows/${encodeURIComponent(workflow.id)}/runs?limit=1`)),
    [workflow.id, workflow.updatedAt, known],
  );
  const last = known
    ? (workflow.lastRunId ? { runId: workflow.lastRunId, status: workflow.lastRunStatus ?? "", createdAt: workflow.lastRunAt ?? "" } : undefined)
    : runs.data?.runs[0];
  if (!last) return <span className="muted">{runs.loading && !known ? "" : "never"}</span>;
  return (
    <span>
      <Link to={`/runs/${encodeURIComponent(last.runId)}`} aria-label={`Last run of ${workflow.name || workflow.id}: ${last.status}`}>
        {last.status ? <StatusBadge status={last.status} /> : "run"}
      </Link>{" "}
      <span className="small muted">{when(last.createdAt)}</span>
    </span>
  );
}

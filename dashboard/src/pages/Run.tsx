import { useMemo, useState } from "react";
import { messageOf } from "../api/client";
import { useApi } from "../api/context";
import { TERMINAL, type Plan, type Run, type RunAccepted, type Step } from "../api/types";
import { MediaView, Json } from "../components/MediaView";
import { ErrorNote, StatusBadge, useToast, when } from "../components/common";
import { useLoad, usePoll } from "../lib/hooks";
import { RUN_BACKOFF } from "../lib/poll";
import { filesOfItem, groupSteps, itemRows, timelineScale } from "../lib/timeline";
import { Link, navigate } from "../router";

export function RunPage({ id }: { id: string }) {
  const api = useApi();
  const toast = useToast();
  const run = usePoll(() => api.get<Run>(`/v1/runs/${encodeURIComponent(id)}`), (r) => TERMINAL.has(r.status), RUN_BACKOFF, [id]);
  const data = run.data;
  const needsPlan = Boolean(data && data.steps.some((s) => !s.task));
  const plan = useLoad(
    () => (data && needsPlan ? api.get<Plan>(`/v1/workflows/${encodeURIComponent(data.workflowId)}/plan`).catch(() => null) : Promise.resolve(null)),
    [data?.workflowId, needsPlan],
  );
  const [item, setItem] = useState<number>();
  const [busy, setBusy] = useState(false);

  const items = useMemo(() => (data?.batch ? itemRows(data) : []), [data]);
  const shownItem = item ?? (items.length ? items.find((r) => r.status === "failed")?.item ?? items[0].item : undefined);
  const steps = useMemo(() => (data ? data.steps.filter((s) => !data.batch || s.item === shownItem) : []), [data, shownItem]);
  const groups = useMemo(() => groupSteps(steps, plan.data ?? null), [steps, plan.data]);
  const scale = useMemo(() => timelineScale(steps), [steps]);

  if (!data) {
    return (
      <>
        <h1>Run {id}</h1>
        {run.error ? <ErrorNote error={run.error} /> : <p role="status">Loading the run...</p>}
      </>
    );
  }
  const done = data.progress.completed + data.progress.failed;
  const total = Math.max(1, data.progress.total);
  const terminal = TERMINAL.has(data.status);
  const outputs = filesOfItem(data, data.outputs, shownItem);
  const inputs = filesOfItem(data, data.inputs ?? [], shownItem);
  const sources = [...new Set(steps.map((s) => s.sourceKey).filter(Boolean))] as string[];

  const act = async (what: "cancel" | "retry") => {
    setBusy(true);
    try {
      if (what === "cancel") {
        await api.post(`/v1/runs/${encodeURIComponent(id)}/cancel`);
        toast("Cancel requested");
        await run.reload();
      } else {
        const accepted = await api.post<RunAccepted>(`/v1/runs/${encodeURIComponent(id)}/retry`, {});
        toast(accepted.redriven ? "Retrying from the failed Task" : `Retried as ${accepted.runId}`);
        if (accepted.runId !== id) navigate(`/runs/${encodeURIComponent(accepted.runId)}`);
        else await run.reload();
      }
    } catch (error) {
      toast(messageOf(error), "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="run">
      <div className="page-head">
        <h1>Run {data.runId}</h1>
        <StatusBadge status={data.status} testId="run-status" />
        <div className="spacer" />
        {!terminal && <button type="button" disabled={busy} onClick={() => act("cancel")}>Cancel run</button>}
        {(data.status === "failed" || data.status === "cancelled") && <button type="button" disabled={busy} onClick={() => act("retry")}>Retry run</button>}
      </div>
      <p className="muted">
        Workflow <Link to={`/workflows/${encodeURIComponent(data.workflowId)}`}>{data.workflowId}</Link> v{data.version}
        {" · "}created {when(data.createdAt)}{data.endedAt ? ` · ended ${when(data.endedAt)}` : ""}
        {data.retryOf ? <> · retry of <Link to={`/runs/${encodeURIComponent(data.retryOf)}`}>{data.retryOf}</Link></> : null}
      </p>
      <ErrorNote error={run.error} />
      <div className="progress-row">
        <div role="progressbar" aria-label="Run progress" aria-valuemin={0} aria-valuemax={data.progress.total} aria-valuenow={done}
          aria-valuetext={`${done} of ${data.progress.total}`} className="progress">
          <div className="progress-done" style={{ width: `${(100 * data.progress.completed) / total}%` }} />
          <div className="progress-failed" style={{ width: `${(100 * data.progress.failed) / total}%` }} />
        </div>
        <span data-testid="run-progress">{done}/{data.progress.total}</span>
        {data.progress.failed > 0 && <span className="bad">{data.progress.failed} failed</span>}
      </div>
      {data.error && (
        <div role="alert" className="error" data-testid="run-error">
          <strong>{data.error.error}</strong>{data.error.nodeIds?.length ? ` in ${data.error.nodeIds.join(", ")}` : ""}
          {data.error.field ? ` (field ${data.error.field})` : ""}: {data.error.message}
        </div>
      )}
      {data.batch && (
        <div className="table-wrap">
          <table aria-label="Items">
            <thead><tr><th scope="col">Item</th><th scope="col">Source</th><th scope="col">Status</th><th scope="col">Steps</th><th scope="col">Time</th></tr></thead>
            <tbody>
              {items.map((row) => (
                <tr key={row.item} data-testid="run-item" data-status={row.status} aria-selected={row.item === shownItem} className={row.item === shownItem ? "current" : undefined}>
                  <td><button type="button" className="link" onClick={() => setItem(row.item)} aria-label={`Show item ${row.item + 1}`}>#{row.item + 1}</button></td>
                  <td className="small" title={row.source}>{row.source ? row.source.split("/").pop() : ""}</td>
                  <td><StatusBadge status={row.status} /></td>
                  <td>{row.steps}</td>
                  <td>{row.durationMs !== undefined ? `${Math.round(row.durationMs)} ms` : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="run-grid">
        <section aria-label="Timeline" className="panel">
          <h2>Timeline{data.batch && shownItem !== undefined ? ` of item #${shownItem + 1}` : ""}</h2>
          {steps.length === 0 && <p className="muted">{terminal ? "No steps ran." : "Waiting for the first step..."}</p>}
          <ol className="timeline" data-testid="timeline">
            {groups.map((group, gi) => (
              <li key={`${group.task ?? "step"}-${gi}`} className={group.task && group.steps.length > 1 ? "task-group fused" : "task-group"}
                data-testid="task-group" data-task={group.task ?? ""}>
                {group.task && <div className="task-name">Task <code>{group.task}</code>{group.steps.length > 1 ? ` · ${group.steps.length} nodes fused` : ""}</div>}
                <ol>
                  {group.steps.map((step, si) => <StepRow key={`${step.nodeId}-${step.item ?? 0}-${si}`} step={step} scale={scale} />)}
                </ol>
              </li>
            ))}
          </ol>
        </section>
        <section aria-label="Media" className="panel media-panel">
          <h2>Input and output{data.batch && shownItem !== undefined ? ` of item #${shownItem + 1}` : ""}</h2>
          <div className="side-by-side">
            <div data-testid="run-inputs">
              <h3>Input</h3>
              {inputs.length ? inputs.map((f) => <MediaView key={f.key} file={f} role="Input" />)
                : sources.map((s) => <p key={s} className="small"><code>{s}</code></p>)}
              {!inputs.length && !sources.length && <p className="muted">-</p>}
            </div>
            <div data-testid="run-outputs">
              <h3>Output</h3>
              {outputs.length ? outputs.map((f) => <MediaView key={f.key} file={f} role="Output" />) : <p className="muted">{terminal ? "No outputs." : "Not yet."}</p>}
            </div>
          </div>
        </section>
      </div>
    </section>
  );
}

function StepRow({ step, scale }: { step: Step; scale: { start: number; span: number } }) {
  const [open, setOpen] = useState(false);
  const started = step.startedAt ? Date.parse(step.startedAt) : NaN;
  const left = Number.isFinite(started) ? ((started - scale.start) / scale.span) * 100 : 0;
  const width = Math.max(0.8, ((step.durationMs ?? 0) / scale.span) * 100);
  return (
    <li className={`step step-${step.status}`} data-testid="timeline-step" data-node-id={step.nodeId} data-status={step.status}>
      <div className="step-head">
        <StatusBadge status={step.status} />
        <strong>{step.nodeId}</strong> <span className="muted small">{step.kind}</span>
        <span className="step-duration">{step.durationMs !== undefined ? `${step.durationMs < 10 ? step.durationMs.toFixed(2) : Math.round(step.durationMs)} ms` : ""}</span>
        {step.output && (
          <button type="button" className="link small" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? "Hide" : "Show"} output of {step.nodeId}
          </button>
        )}
      </div>
      <div className="bar-track" aria-hidden="true"><div className="bar" style={{ left: `${Math.min(99, left)}%`, width: `${Math.min(100, width)}%` }} /></div>
      {(step.error || step.errorMessage) && (
        <p className="error" data-testid="step-error">
          <strong>{step.nodeId}</strong>{step.errorField ? <> field <code>{step.errorField}</code></> : null}: <code>{step.error}</code> {step.errorMessage}
        </p>
      )}
      {open && step.output && <Json value={step.output} />}
    </li>
  );
}

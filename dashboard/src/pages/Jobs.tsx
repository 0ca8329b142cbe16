import { useState } from "react";
import { ApiError, messageOf } from "../api/client";
import { useApi } from "../api/context";
import type { Job } from "../api/types";
import { ErrorNote, StatusBadge, useToast, when } from "../components/common";
import { usePoll } from "../lib/hooks";
import { Link } from "../router";
import { downloadUrl } from "../components/common";
import { LIST_BACKOFF } from "../lib/poll";

const REMEMBERED = "mediaflow.jobs";

function remembered(): string[] {
  try {
    const ids: unknown = JSON.parse(window.sessionStorage.getItem(REMEMBERED) ?? "[]");
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function remember(id: string): void {
  window.sessionStorage.setItem(REMEMBERED, JSON.stringify([id, ...remembered().filter((x) => x !== id)].slice(0, 50)));
}

/** The jobs list: `GET /v1/jobs` where the API has it, else the jobs started from this tab. */
async function loadJobs(api: ReturnType<typeof useApi>, state: { ok: boolean }): Promise<Job[]> {
  if (state.ok) {
    try {
      const listed = (await api.get<{ jobs: Partial<Job>[] }>("/v1/jobs?limit=20")).jobs;
      // the list is a summary: each job's progress and results come from its own record
      const full = await Promise.all(listed.map((j) => (j.jobId ? api.get<Job>(`/v1/jobs/${encodeURIComponent(j.jobId)}`).catch(() => null) : null)));
      return full.filter((j): j is Job => j !== null);
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 405)) throw error;
      state.ok = false;
    }
  }
  const jobs = await Promise.all(remembered().map((id) => api.get<Job>(`/v1/jobs/${encodeURIComponent(id)}`).catch(() => null)));
  return jobs.filter((j): j is Job => j !== null);
}

export function JobsPage() {
  const api = useApi();
  const toast = useToast();
  const [listed] = useState({ ok: true });
  const jobs = usePoll(() => loadJobs(api, listed), (all) => all.every((j) => ["completed", "failed", "cancelled"].includes(j.status)), LIST_BACKOFF, []);
  const [jobType, setJobType] = useState("convert");
  const [formats, setFormats] = useState("webp");
  const [resizes, setResizes] = useState("");
  const [compressions, setCompressions] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [error, setError] = useState<ApiError | string>();
  const [busy, setBusy] = useState(false);
  const fieldError = (name: string) => (error instanceof ApiError ? error.fieldError(name) : undefined);

  return (
    <section>
      <h1>Jobs</h1>
      <p className="muted">One-off conversions of uploaded files, without a saved workflow (the Convertly-style jobs API).</p>
      <form aria-label="New job" className="card" onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          const form = new FormData();
          form.append("jobType", jobType);
          for (const file of files) form.append("files", file, file.name);
          if (jobType === "convert" && formats) form.append("formats", formats);
          if (jobType === "resize" && resizes) form.append("resizes", resizes);
          if (jobType === "compress" && compressions) form.append("compressions", compressions);
          const accepted = await api.upload<{ jobId: string }>("/v1/jobs", form);
          remember(accepted.jobId);
          toast(`Job ${accepted.jobId} started`);
          await jobs.reload();
        } catch (caught) {
          setError(caught instanceof ApiError ? caught : messageOf(caught));
        } finally {
          setBusy(false);
        }
      }}>
        <h2>New job</h2>
        <div className="field">
          <label htmlFor="job-type">Job type</label>
          <select id="job-type" value={jobType} onChange={(e) => setJobType(e.target.value)}>
            <option value="convert">convert</option>
            <option value="compress">compress</option>
            <option value="resize">resize</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="job-files">Files</label>
          <input id="job-files" type="file" multiple onChange={(e) => setFiles([...(e.target.files ?? [])])} aria-describedby={fieldError("files") ? "job-files-error" : undefined} />
          {fieldError("files") && <p id="job-files-error" className="field-error">{fieldError("files")}</p>}
        </div>
        {jobType === "convert" && (
          <div className="field">
            <label htmlFor="job-formats">Formats</label>
            <input id="job-formats" value={formats} onChange={(e) => setFormats(e.target.value)} aria-describedby="job-formats-hint" />
            <p id="job-formats-hint" className="hint">Comma separated, e.g. webp,avif</p>
            {fieldError("formats") && <p className="field-error">{fieldError("formats")}</p>}
          </div>
        )}
        {jobType === "resize" && (
          <div className="field">
            <label htmlFor="job-resizes">Resizes</label>
            <input id="job-resizes" value={resizes} onChange={(e) => setResizes(e.target.value)} aria-describedby="job-resizes-hint" />
            <p id="job-resizes-hint" className="hint">JSON as the jobs API takes it, e.g. {'[{"width":800}]'}</p>
            {fieldError("resizes") && <p className="field-error">{fieldError("resizes")}</p>}
          </div>
        )}
        {jobType === "compress" && (
          <div className="field">
            <label htmlFor="job-compressions">Compressions</label>
            <input id="job-compressions" value={compressions} onChange={(e) => setCompressions(e.target.value)} />
            {fieldError("compressions") && <p className="field-error">{fieldError("compressions")}</p>}
          </div>
        )}
        {error && <p role="alert" className="error">{typeof error === "string" ? error : error.detail}</p>}
        <button type="submit" className="primary" disabled={busy || !files.length}>Start job</button>
      </form>
      <ErrorNote error={jobs.error} />
      <div className="table-wrap">
        <table aria-label="Jobs">
          <thead><tr><th scope="col">Job</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Results</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(jobs.data ?? []).map((job) => (
              <tr key={job.jobId} data-testid="job-row" data-status={job.status}>
                <td><code>{job.jobId}</code></td>
                <td>{job.jobType}</td>
                <td><StatusBadge status={job.status} />{job.errorMessage ? <div className="error small">{job.errorMessage}</div> : null}</td>
                <td>
                  {job.progress && (
                    <>
                      <progress max={Math.max(1, job.progress.total)} value={job.progress.completed + job.progress.failed} aria-label={`Progress of ${job.jobId}`} />{" "}
                      {job.progress.completed + job.progress.failed}/{job.progress.total}
                    </>
                  )}
                </td>
                <td className="small"><JobResults job={job} /></td>
                <td>{when(job.createdAt)}</td>
                <td>{job.status === "pending" && (
                  <button type="button" onClick={async () => {
                    try {
                      await api.delete(`/v1/jobs/${encodeURIComponent(job.jobId)}`);
                      await jobs.reload();
                    } catch (caught) {
                      toast(messageOf(caught), "error");
                    }
                  }} aria-label={`Cancel job ${job.jobId}`}>Cancel</button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {jobs.data && jobs.data.length === 0 && <p className="muted">No jobs yet.</p>}
    </section>
  );
}

interface JobResult {
  file?: string;
  status?: string;
  runId?: string;
  error?: string | null;
  outputs?: { key: string; filename: string; url: string; format?: string }[];
}

function JobResults({ job }: { job: Job }) {
  const results = (job.results ?? []) as JobResult[];
  return (
    <>
      {results.map((r, i) => (
        <div key={`${job.jobId}-${i}`}>
          <span>{r.file ?? `file ${i + 1}`}</span>
          {r.runId && <> · <Link to={`/runs/${encodeURIComponent(r.runId)}`} aria-label={`Run of ${r.file ?? `file ${i + 1}`}`}>run</Link></>}
          {r.error && <span className="bad"> · {r.error}</span>}
          {(r.outputs ?? []).map((o) => <div key={o.key}><a href={downloadUrl(o.url)} download={o.filename}>Download {o.filename}</a></div>)}
        </div>
      ))}
      {job.archive && <div><a href={downloadUrl(job.archive.url)} download={job.archive.filename}>Download {job.archive.filename}</a></div>}
    </>
  );
}

import { Fragment, useState } from "react";
import { ApiError, messageOf } from "../api/client";
import { useApi } from "../api/context";
import type { Delivery, Webhook } from "../api/types";
import { Confirm, ErrorNote, StatusBadge, useToast, when } from "../components/common";
import { Json } from "../components/MediaView";
import { useLoad } from "../lib/hooks";

export function WebhooksPage() {
  const api = useApi();
  const toast = useToast();
  const hooks = useLoad(() => api.get<{ webhooks: Webhook[] }>("/v1/webhooks"), []);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("");
  const [error, setError] = useState<ApiError | string>();
  const [secret, setSecret] = useState<{ label: string; value: string }>();
  const [open, setOpen] = useState<string>();
  const [deleting, setDeleting] = useState<Webhook>();

  const act = async (call: () => Promise<unknown>, done: string) => {
    try {
      await call();
      toast(done);
    } catch (caught) {
      toast(messageOf(caught), "error");
    }
  };
  const urlError = error instanceof ApiError ? error.fieldError("url") : undefined;
  const eventsError = error instanceof ApiError ? error.fieldError("eventTypes") : undefined;

  return (
    <section>
      <h1>Webhooks</h1>
      <form aria-label="New webhook" className="card" onSubmit={async (event) => {
        event.preventDefault();
        setError(undefined);
        try {
          const created = await api.post<Webhook & { secret: string }>("/v1/webhooks", {
            url: url.trim(),
            eventTypes: events.split(",").map((s) => s.trim()).filter(Boolean),
          });
          setSecret({ label: `Signing secret of ${created.url}`, value: created.secret });
          setUrl("");
          setEvents("");
          await hooks.reload();
        } catch (caught) {
          setError(caught instanceof ApiError ? caught : messageOf(caught));
        }
      }}>
        <h2>New webhook</h2>
        <div className="field">
          <label htmlFor="hook-url">URL</label>
          <input id="hook-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.example.com/mediaflow"
            aria-invalid={urlError ? true : undefined} aria-describedby={urlError ? "hook-url-error" : undefined} />
          {urlError && <p id="hook-url-error" className="field-error" data-testid="field-error-url">{urlError}</p>}
        </div>
        <div className="field">
          <label htmlFor="hook-events">Event types</label>
          <input id="hook-events" value={events} onChange={(e) => setEvents(e.target.value)} placeholder="workflow.completed, workflow.failed"
            aria-describedby="hook-events-hint" aria-invalid={eventsError ? true : undefined} />
          <p id="hook-events-hint" className="hint">Comma separated; empty = every event</p>
          {eventsError && <p className="field-error">{eventsError}</p>}
        </div>
        {error && !urlError && !eventsError && <p role="alert" className="error">{typeof error === "string" ? error : error.detail}</p>}
        <button type="submit" className="primary">Add webhook</button>
      </form>
      {secret && (
        <div className="card secret" role="status">
          <p>{secret.label} (shown once: store it now):</p>
          <code data-testid="webhook-secret">{secret.value}</code>
          <button type="button" onClick={() => setSecret(undefined)}>Done</button>
        </div>
      )}
      <ErrorNote error={hooks.error} />
      <div className="table-wrap">
        <table aria-label="Webhooks">
          <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(hooks.data?.webhooks ?? []).map((hook) => (
              <Fragment key={hook.id}>
                <tr data-testid="webhook-row" data-webhook-id={hook.id}>
                  <td className="wrap"><code>{hook.url}</code></td>
                  <td>{hook.eventTypes.length ? hook.eventTypes.join(", ") : "all"}</td>
                  <td><StatusBadge status={hook.status} />{hook.disabledReason ? <div className="small muted">{hook.disabledReason}</div> : null}</td>
                  <td>{when(hook.createdAt)}</td>
                  <td className="row-actions">
                    <button type="button" aria-expanded={open === hook.id} aria-label={`Deliveries of ${hook.url}`} onClick={() => setOpen(open === hook.id ? undefined : hook.id)}>Deliveries</button>
                    <button type="button" aria-label={`Send ping to ${hook.url}`} onClick={() => act(() => api.post(`/v1/webhooks/${hook.id}/ping`), "Ping sent")}>Ping</button>
                    <button type="button" aria-label={`Rotate secret of ${hook.url}`} onClick={() => act(async () => {
                      const rotated = await api.post<{ secret: string }>(`/v1/webhooks/${hook.id}/rotate`);
                      setSecret({ label: `New signing secret of ${hook.url} (the old one keeps signing for 24 h)`, value: rotated.secret });
                    }, "Secret rotated")}>Rotate secret</button>
                    <button type="button" className="danger" aria-label={`Delete ${hook.url}`} onClick={() => setDeleting(hook)}>Delete</button>
                  </td>
                </tr>
                {open === hook.id && (
                  <tr>
                    <td colSpan={5}><Deliveries hook={hook} /></td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      {hooks.data && hooks.data.webhooks.length === 0 && <p className="muted">No webhooks yet.</p>}
      {deleting && (
        <Confirm title="Delete webhook?" message={<>Stop sending events to <code>{deleting.url}</code>?</>} confirm="Delete"
          onConfirm={async () => {
            await api.delete(`/v1/webhooks/${deleting.id}`);
            await hooks.reload();
          }}
          onClose={() => setDeleting(undefined)} />
      )}
    </section>
  );
}

function Deliveries({ hook }: { hook: Webhook }) {
  const api = useApi();
  const list = useLoad(() => api.get<{ deliveries: Delivery[] }>(`/v1/webhooks/${hook.id}/deliveries`), [hook.id]);
  const [replayed, setReplayed] = useState<string>();
  const [expanded, setExpanded] = useState<string>();
  const [error, setError] = useState<string>();
  const deliveries = list.data?.deliveries ?? [];
  return (
    <section aria-label={`Deliveries of ${hook.url}`} className="deliveries">
      <div className="page-head">
        <h2>Deliveries</h2>
        <button type="button" onClick={() => void list.reload()}>Refresh deliveries</button>
      </div>
      <ErrorNote error={list.error} />
      {error && <p role="alert" className="error">{error}</p>}
      <p role="status" data-testid="replay-status">{replayed ?? ""}</p>
      {deliveries.length === 0 && !list.loading && <p className="muted">No deliveries yet.</p>}
      {deliveries.length > 0 && (
        <table aria-label="Deliveries">
          <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last code</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {deliveries.map((d) => (
              <Fragment key={d.id}>
                <tr data-testid="delivery-row" data-delivery-id={d.id} data-status={d.status}>
                  <td>{d.eventType}<div className="small muted"><code>{d.id}</code></div></td>
                  <td><StatusBadge status={d.status} /></td>
                  <td data-testid="delivery-attempt-count">{d.attempts}</td>
                  <td>{d.lastStatusCode ?? "-"}</td>
                  <td>{when(d.createdAt)}</td>
                  <td className="row-actions">
                    <button type="button" aria-expanded={expanded === d.id} onClick={() => setExpanded(expanded === d.id ? undefined : d.id)} aria-label={`Attempts of delivery ${d.id}`}>Attempts</button>
                    <button type="button" aria-label={`Replay delivery ${d.id}`} onClick={async () => {
                      setError(undefined);
                      try {
                        const again = await api.post<Delivery>(`/v1/webhooks/${hook.id}/deliveries/${d.id}/replay`);
                        setReplayed(`Replayed ${d.id}: ${again.status}`);
                        await list.reload();
                        // the new attempt is made in the background: look again shortly
                        setTimeout(() => void list.reload(), 1500);
                      } catch (caught) {
                        setError(messageOf(caught));
                      }
                    }}>Replay</button>
                  </td>
                </tr>
                {expanded === d.id && (
                  <tr>
                    <td colSpan={6}>
                      <ol data-testid="delivery-attempts" className="attempts">
                        {d.log.map((a) => (
                          <li key={`${d.id}-${a.number}`}>#{a.number} at {when(a.at)}: {a.statusCode ?? "no answer"}{a.latencyMs != null ? ` in ${Math.round(a.latencyMs)} ms` : ""}{a.error ? ` · ${a.error}` : ""}</li>
                        ))}
                      </ol>
                      <Json value={d.payload} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

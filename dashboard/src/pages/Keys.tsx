import { useState } from "react";
import { ApiError, messageOf } from "../api/client";
import { useApi } from "../api/context";
import type { ApiKey } from "../api/types";
import { Confirm, ErrorNote, useToast, when } from "../components/common";
import { useLoad } from "../lib/hooks";

const SCOPES = ["workflows:read", "workflows:write", "workflows:execute"];

export function KeysPage() {
  const api = useApi();
  const toast = useToast();
  const keys = useLoad(() => api.get<{ keys: ApiKey[] }>("/v1/keys"), []);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["workflows:read"]);
  const [created, setCreated] = useState<string>();
  const [error, setError] = useState<ApiError | string>();
  const [revoking, setRevoking] = useState<ApiKey>();
  const scopeError = error instanceof ApiError ? error.fieldError("scopes") : undefined;
  return (
    <section>
      <h1>API keys</h1>
      <form aria-label="New API key" className="card" onSubmit={async (event) => {
        event.preventDefault();
        setError(undefined);
        try {
          const result = await api.post<ApiKey & { key: string }>("/v1/keys", { name, scopes });
          setCreated(result.key);
          setName("");
          await keys.reload();
        } catch (caught) {
          setError(caught instanceof ApiError ? caught : messageOf(caught));
        }
      }}>
        <h2>New API key</h2>
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
        </div>
        <fieldset aria-describedby={scopeError ? "scope-error" : undefined}>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} className="choice">
              <input type="checkbox" checked={scopes.includes(scope)} onChange={(e) => setScopes(e.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))} />
              {scope}
            </label>
          ))}
          {scopeError && <p id="scope-error" className="field-error" data-testid="field-error-scopes">{scopeError}</p>}
        </fieldset>
        {error && !scopeError && <p role="alert" className="error">{typeof error === "string" ? error : error.detail}</p>}
        <button type="submit" className="primary" disabled={!scopes.length}>Create key</button>
      </form>
      {created && (
        <div className="card secret" role="status">
          <p>The new key, shown once: store it now.</p>
          <code data-testid="new-key-secret">{created}</code>
          <button type="button" onClick={() => setCreated(undefined)}>Done</button>
        </div>
      )}
      <ErrorNote error={keys.error} />
      <div className="table-wrap">
        <table aria-label="API keys">
          <thead><tr><th scope="col">Key</th><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {(keys.data?.keys ?? []).map((key) => (
              <tr key={key.keyId} data-testid="key-row" data-key-id={key.keyId}>
                <td><code>{key.keyId}</code></td>
                <td>{key.name}</td>
                <td>{key.scopes.join(", ")}</td>
                <td>{when(key.createdAt)}</td>
                <td>{key.revoked ? `revoked ${when(key.revokedAt)}` : "active"}</td>
                <td>{!key.revoked && <button type="button" className="danger" aria-label={`Revoke ${key.keyId}`} onClick={() => setRevoking(key)}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {revoking && (
        <Confirm title="Revoke key?" message={<>Revoke <code>{revoking.keyId}</code> ({revoking.name})? Callers using it get 401 from now on.</>} confirm="Revoke"
          onConfirm={async () => {
            await api.delete(`/v1/keys/${encodeURIComponent(revoking.keyId)}`);
            toast(`Revoked ${revoking.keyId}`);
            await keys.reload();
          }}
          onClose={() => setRevoking(undefined)} />
      )}
    </section>
  );
}

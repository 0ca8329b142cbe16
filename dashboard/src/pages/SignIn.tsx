import { useState } from "react";
import { messageOf } from "../api/client";
import { useApi } from "../api/context";
import { signInWithKey } from "../api/session";
import type { Session } from "../api/types";

export function SignInPage({ onSignedIn, signedIn }: { onSignedIn: (s: Session) => void; signedIn: boolean }) {
  const api = useApi();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (signedIn) return <p role="status">Signed in; opening the workflows...</p>;
  return (
    <section className="signin">
      <h1>Sign in</h1>
      <p>
        On this machine, open the one-time link that <code>mediaflow serve</code> printed. Against a deployment on AWS,
        paste an API key: it is kept in this tab only (session storage) and sent as a header, never in a URL.
      </p>
      <form
        data-testid="signin-form"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            onSignedIn(await signInWithKey(api, key));
            setKey("");
          } catch (caught) {
            setError(messageOf(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" spellCheck={false} value={key} required
          onChange={(e) => setKey(e.target.value)} aria-invalid={error ? true : undefined}
          aria-describedby={error ? "api-key-error" : undefined} />
        {error && <p id="api-key-error" role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy || !key.trim()}>Sign in</button>
      </form>
    </section>
  );
}

import { useEffect, useMemo, useState } from "react";
import { ApiClient, apiBase, messageOf } from "./api/client";
import { ApiContext } from "./api/context";
import { loadSession, signOut } from "./api/session";
import type { Session } from "./api/types";
import { ToastProvider } from "./components/common";
import { Link, match, navigate, useLocation } from "./router";
import { SignInPage } from "./pages/SignIn";
import { WorkflowsPage } from "./pages/Workflows";
import { BuilderPage } from "./pages/Builder";
import { RunPage } from "./pages/Run";
import { JobsPage } from "./pages/Jobs";
import { WebhooksPage } from "./pages/Webhooks";
import { KeysPage } from "./pages/Keys";
import { VersionsPage } from "./pages/Versions";

const NAV: [string, string][] = [
  ["/workflows", "Workflows"],
  ["/jobs", "Jobs"],
  ["/webhooks", "Webhooks"],
  ["/keys", "API keys"],
];

export function App() {
  const api = useMemo(() => new ApiClient({ base: apiBase(), storage: window.sessionStorage }), []);
  const path = useLocation();
  const route = match(path);
  const [session, setSession] = useState<Session>();
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    api.onUnauthorized = () => {
      api.setApiKey(null); // a revoked or expired key is of no further use
      setSession({ signedIn: false });
    };
    loadSession(api)
      .then(setSession)
      .catch((error) => setFailure(messageOf(error)));
  }, [api]);

  useEffect(() => {
    if (!session) return;
    if (!session.signedIn && route.name !== "signin") navigate("/signin", true);
    else if (session.signedIn && (route.name === "signin" || route.name === "home")) navigate("/workflows", true);
  }, [session, route.name]);

  useEffect(() => {
    const titles: Record<string, string> = { workflows: "Workflows", builder: "Builder", versions: "Versions", run: "Run",
      jobs: "Jobs", webhooks: "Webhooks", keys: "API keys", signin: "Sign in" };
    document.title = `${titles[route.name] ?? "mediaflow"} · mediaflow`;
  }, [route.name]);

  let page;
  if (failure) page = <p role="alert" className="error">The API is not reachable: {failure}</p>;
  else if (!session) page = <p role="status">Loading...</p>;
  else if (!session.signedIn || route.name === "signin") page = <SignInPage onSignedIn={setSession} signedIn={session.signedIn} />;
  else {
    switch (route.name) {
      case "workflows": page = <WorkflowsPage />; break;
      case "builder": page = <BuilderPage key={route.params.id} id={route.params.id} />; break;
      case "versions": page = <VersionsPage key={route.params.id} id={route.params.id} />; break;
      case "run": page = <RunPage key={route.params.id} id={route.params.id} />; break;
      case "jobs": page = <JobsPage />; break;
      case "webhooks": page = <WebhooksPage />; break;
      case "keys": page = <KeysPage />; break;
      case "home": page = <p role="status">Loading...</p>; break;
      default: page = <><h1>Not found</h1><p>No page at {path}. <Link to="/workflows">Workflows</Link></p></>;
    }
  }

  const signedIn = Boolean(session?.signedIn);
  return (
    <ApiContext.Provider value={api}>
      <ToastProvider>
        <a className="skip" href="#main">Skip to content</a>
        <header className="top">
          <Link to="/workflows" className="brand" aria-label="mediaflow home">mediaflow</Link>
          {signedIn && (
            <nav aria-label="Main">
              <ul>
                {NAV.map(([to, label]) => (
                  <li key={to}>
                    <Link to={to} aria-current={path.startsWith(to) || (to === "/workflows" && route.name === "run") ? "page" : undefined}>{label}</Link>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {signedIn && (
            <button
              type="button"
              className="link"
              onClick={async () => {
                try {
                  await signOut(api);
                } finally {
                  setSession({ signedIn: false });
                }
              }}
            >
              Sign out
            </button>
          )}
        </header>
        <main id="main" tabIndex={-1}>{page}</main>
      </ToastProvider>
    </ApiContext.Provider>
  );
}

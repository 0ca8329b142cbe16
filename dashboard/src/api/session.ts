import { ApiError, type ApiClient } from "./client";
import type { Session } from "./types";

/** Who is signed in: `GET /v1/session` (always 200), or -- on an API without it -- a probe with the stored key
 * or the session cookie. */
export async function loadSession(api: ApiClient): Promise<Session> {
  try {
    return await api.get<Session>("/v1/session");
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 401 && error.status !== 403)) throw error;
    if (error.status !== 404) return { signedIn: false };
  }
  try {
    await api.get("/v1/workflows?limit=1");
    return { signedIn: true, via: api.apiKey ? "key" : "session" };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return { signedIn: false };
    throw error;
  }
}

/** Checks a pasted key before keeping it (sessionStorage only). */
export async function signInWithKey(api: ApiClient, key: string): Promise<Session> {
  const trimmed = key.trim();
  let session: Session;
  try {
    session = await api.request<Session>("GET", "/v1/session", {}, trimmed);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    await api.request("GET", "/v1/workflows?limit=1", {}, trimmed);
    session = { signedIn: true, via: "key" };
  }
  if (!session.signedIn) throw new ApiError(401, { title: "Unauthenticated", detail: "the API key is not valid or was revoked" });
  api.setApiKey(trimmed);
  return session;
}

export async function signOut(api: ApiClient): Promise<void> {
  const hadKey = Boolean(api.apiKey);
  api.setApiKey(null);
  if (!hadKey) {
    await fetch(`${api.base}/signout`, { method: "POST", credentials: "same-origin", headers: { "X-Requested-With": "mediaflow" } });
  }
}

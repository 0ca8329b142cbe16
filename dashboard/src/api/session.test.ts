import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, KEY_STORAGE } from "./client";
import { loadSession, signInWithKey } from "./session";
import { startBatchOfSamples } from "../lib/runs";

function memory() {
  const data = new Map<string, string>();
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k), data };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" } });

function scripted(answer: (url: string, init: RequestInit) => Response) {
  const calls: { url: string; init: RequestInit }[] = [];
  return { calls, fetch: async (url: string, init?: RequestInit) => (calls.push({ url, init: init ?? {} }), answer(url, init ?? {})) };
}

describe("session", () => {
  it("reads GET /v1/session", async () => {
    const api = new ApiClient({ fetch: scripted(() => json(200, { signedIn: true, tenant: "local", via: "session" })).fetch });
    expect(await loadSession(api)).toMatchObject({ signedIn: true, via: "session" });
  });

  it("keeps a pasted key only once the API accepted it, and never puts it in a URL", async () => {
    const storage = memory();
    const good = scripted((_url, init) => json(200, (init.headers as Record<string, string>).Authorization === "Bearer mf_good"
      ? { signedIn: true, via: "key" } : { signedIn: false }));
    const api = new ApiClient({ fetch: good.fetch, storage });
    await expect(signInWithKey(api, "mf_bad")).rejects.toBeInstanceOf(ApiError);
    expect(storage.data.has(KEY_STORAGE)).toBe(false);
    expect(await signInWithKey(api, "  mf_good \n")).toMatchObject({ signedIn: true });
    expect(storage.data.get(KEY_STORAGE)).toBe("mf_good");
    expect(good.calls.every((c) => !c.url.includes("mf_"))).toBe(true);
  });

  it("falls back to probing the API where /v1/session does not exist", async () => {
    const api = new ApiClient({ fetch: scripted((url) => (url.endsWith("/v1/session") ? json(404, { title: "Not Found" }) : json(401, { detail: "no key" }))).fetch });
    expect(await loadSession(api)).toEqual({ signedIn: false });
  });
});

describe("batch of samples", () => {
  it("asks for `count` samples in one run request", async () => {
    const script = scripted(() => json(202, { runId: "run-1", status: "pending", workflowId: "w", batch: true, total: 10 }));
    const accepted = await startBatchOfSamples(new ApiClient({ fetch: script.fetch }), "w", "image", 10);
    expect(accepted).toMatchObject({ runId: "run-1", total: 10 });
    expect(JSON.parse(String(script.calls[0].init.body))).toEqual({ sample: true, sampleType: "image", count: 10 });
  });

  it("passes other errors on with their fields", async () => {
    const script = scripted(() => json(409, { type: "https://mediaflow.dev/problems/WorkflowPaused", detail: "the workflow is paused", errors: [{ field: "status", message: "paused" }] }));
    const error = (await startBatchOfSamples(new ApiClient({ fetch: script.fetch }), "w", "image", 10).catch((e: unknown) => e)) as ApiError;
    expect(error.code).toBe("WorkflowPaused");
    expect(error.fieldError("status")).toBe("paused");
  });
});

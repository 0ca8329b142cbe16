import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, CSRF_HEADER, KEY_STORAGE, messageOf, problemFrom } from "./client";

function memory() {
  const data = new Map<string, string>();
  return {
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
    data,
  };
}

type Call = { url: string; init: RequestInit };

function fakeFetch(responses: Response[]) {
  const calls: Call[] = [];
  const fn = async (url: string, init?: RequestInit) => {
    calls.push({ url, init: init ?? {} });
    const next = responses.shift();
    if (!next) throw new TypeError("Failed to fetch");
    return next;
  };
  return { fn, calls };
}

const problem = (status: number, body: unknown, type = "application/problem+json", headers: Record<string, string> = {}) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });

describe("ApiClient errors", () => {
  it("turns problem+json into an ApiError naming the field", async () => {
    const { fn } = fakeFetch([problem(422, {
      type: "https://mediaflow.dev/problems/ValidationError", title: "Unprocessable Entity", status: 422,
      detail: "body.nodes[1].config.width: must be >= 1",
      errors: [{ field: "width", path: "nodes[1].config.width", nodeId: "resize", message: "Input should be greater than or equal to 1" }],
    })]);
    const api = new ApiClient({ fetch: fn });
    const error = await api.put("/v1/workflows/w", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe("ValidationError");
    expect(e.detail).toBe("body.nodes[1].config.width: must be >= 1");
    expect(e.fieldError("width")).toBe("Input should be greater than or equal to 1");
    expect(e.errors[0].nodeId).toBe("resize");
    expect(messageOf(e)).toBe(e.detail);
  });

  it("matches a field by the last segment of its path", () => {
    const e = new ApiError(422, { errors: [{ path: "body.eventTypes", message: "bad" }, { message: 5 as unknown as string }] });
    expect(e.fieldError("eventTypes")).toBe("bad");
    expect(e.errors).toHaveLength(1);
    expect(e.code).toBe("HTTP422");
  });

  it("copes with non-JSON and odd bodies", () => {
    expect(problemFrom(502, "text/html", "<h1>Bad gateway</h1>").detail).toBe("<h1>Bad gateway</h1>");
    expect(problemFrom(500, "application/json", "{not json").detail).toBe("{not json");
    expect(problemFrom(403, "application/json", '{"message": "Forbidden"}').detail).toBe("Forbidden");
    expect(problemFrom(500, "", "").detail).toBe("The server answered 500");
  });

  it("reports a network failure as status 0", async () => {
    const api = new ApiClient({ fetch: fakeFetch([]).fn });
    const e = (await api.get("/v1/health").catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(0);
    expect(e.detail).toMatch(/could not be reached/);
  });

  it("retries 429 after Retry-After, then gives up after three tries", async () => {
    const waits: number[] = [];
    const tooMany = () => problem(429, { title: "Too Many Requests", detail: "slow down" }, "application/problem+json", { "Retry-After": "2" });
    const { fn, calls } = fakeFetch([tooMany(), new Response('{"ok":true}', { status: 200, headers: { "Content-Type": "application/json" } })]);
    const api = new ApiClient({ fetch: fn, sleep: async (ms) => void waits.push(ms) });
    expect(await api.get("/v1/x")).toEqual({ ok: true });
    expect(waits).toEqual([2000]);
    expect(calls).toHaveLength(2);
    const again = new ApiClient({ fetch: fakeFetch([tooMany(), tooMany(), tooMany(), tooMany()]).fn, sleep: async () => undefined });
    expect(((await again.get("/v1/x").catch((x: unknown) => x)) as ApiError).status).toBe(429);
  });

  it("calls onUnauthorized on 401", async () => {
    let signedOut = false;
    const api = new ApiClient({ fetch: fakeFetch([problem(401, { detail: "no" })]).fn, onUnauthorized: () => (signedOut = true) });
    await api.get("/v1/workflows").catch(() => undefined);
    expect(signedOut).toBe(true);
  });
});

describe("ApiClient auth", () => {
  it("sends the stored key as a Bearer header and the CSRF header on unsafe methods only", async () => {
    const storage = memory();
    const ok = () => new Response(null, { status: 204 });
    const { fn, calls } = fakeFetch([ok(), ok()]);
    const api = new ApiClient({ fetch: fn, storage, base: "https://api.example.com/prod/" });
    api.setApiKey("mf_abc");
    expect(storage.data.get(KEY_STORAGE)).toBe("mf_abc");
    await api.get("/v1/workflows");
    await api.delete("/v1/workflows/w");
    const [get, del] = calls.map((c) => c.init.headers as Record<string, string>);
    expect(calls[0].url).toBe("https://api.example.com/prod/v1/workflows");
    expect(get.Authorization).toBe("Bearer mf_abc");
    expect(get[CSRF_HEADER]).toBeUndefined();
    expect(del[CSRF_HEADER]).toBe("mediaflow");
    expect(calls[0].url).not.toContain("mf_abc");
    expect(calls[0].init.credentials).toBe("same-origin");
  });

  it("uses the cookie alone when no key is stored, and forgets a key on sign-out", async () => {
    const storage = memory();
    const { fn, calls } = fakeFetch([new Response('{"a":1}', { status: 200, headers: { "Content-Type": "application/json" } })]);
    const api = new ApiClient({ fetch: fn, storage });
    api.setApiKey("k");
    api.setApiKey(null);
    expect(storage.data.size).toBe(0);
    await api.post("/v1/workflows/w/duplicate");
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers.Authorization).toBeUndefined();
    expect(headers[CSRF_HEADER]).toBe("mediaflow");
    expect(headers["Content-Type"]).toBe("application/json");
    expect(calls[0].init.body).toBe("{}");
  });
});

/** The one HTTP client of the app: auth (session cookie or API key), problem+json errors, retries on 429. */

export interface FieldProblem {
  field?: string | null;
  path?: string | null;
  nodeId?: string | null;
  message: string;
  code?: string | null;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldProblem[];
}

/** A failed API call: the problem+json body turned into fields the UI can show next to the input they name. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors: FieldProblem[];

  constructor(status: number, problem: Problem) {
    const detail = problem.detail || problem.title || `HTTP ${status}`;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = codeOf(problem.type) || problem.title || `HTTP${status}`;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors.filter((e) => e && typeof e.message === "string") : [];
  }

  /** The message for one field (matched on `field`, or on the last segment of `path`). */
  fieldError(field: string): string | undefined {
    const hit = this.errors.find((e) => e.field === field || lastSegment(e.path) === field);
    return hit?.message;
  }
}

function codeOf(type: string | undefined): string {
  if (!type || type === "about:blank") return "";
  const parts = type.split("/");
  return parts[parts.length - 1] || "";
}

function lastSegment(path: string | null | undefined): string | undefined {
  if (!path) return undefined;
  const parts = path.split(".");
  return parts[parts.length - 1];
}

/** Turns any response body into a Problem: problem+json as is, JSON objects with `message`, text otherwise. */
export function problemFrom(status: number, contentType: string, body: string): Problem {
  if (contentType.includes("json") && body) {
    try {
      const data: unknown = JSON.parse(body);
      if (data && typeof data === "object") {
        const obj = data as Record<string, unknown>;
        const detail = typeof obj.detail === "string" ? obj.detail : typeof obj.message === "string" ? obj.message : undefined;
        return {
          type: typeof obj.type === "string" ? obj.type : undefined,
          title: typeof obj.title === "string" ? obj.title : undefined,
          status: typeof obj.status === "number" ? obj.status : status,
          detail,
          errors: Array.isArray(obj.errors) ? (obj.errors as FieldProblem[]) : [],
        };
      }
    } catch {
      // not JSON after all: fall through to the text
    }
  }
  const text = body.trim().slice(0, 300);
  return { status, title: `HTTP ${status}`, detail: text || `The server answered ${status}` };
}

export const KEY_STORAGE = "mediaflow.apiKey";
export const CSRF_HEADER = "X-Requested-With";
export const CSRF_VALUE = "mediaflow";

export interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  base?: string;
  fetch?: Fetch;
  storage?: Storage;
  sleep?: (ms: number) => Promise<void>;
  onUnauthorized?: () => void;
}

export interface RequestOptions {
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiClient {
  readonly base: string;
  private readonly fetchImpl: Fetch;
  private readonly storage: Storage | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  onUnauthorized: (() => void) | undefined;

  constructor(options: ClientOptions = {}) {
    this.base = (options.base ?? "").replace(/\/$/, "");
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.storage = options.storage;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.onUnauthorized = options.onUnauthorized;
  }

  get apiKey(): string | null {
    return this.storage?.getItem(KEY_STORAGE) ?? null;
  }

  setApiKey(key: string | null): void {
    if (!this.storage) return;
    if (key) this.storage.setItem(KEY_STORAGE, key);
    else this.storage.removeItem(KEY_STORAGE);
  }

  url(path: string): string {
    return path.startsWith("http") ? path : `${this.base}${path}`;
  }

  headers(method: string, extra: Record<string, string> = {}, key: string | null = this.apiKey): Record<string, string> {
    const headers: Record<string, string> = { Accept: "application/json, application/problem+json", ...extra };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (UNSAFE.has(method)) headers[CSRF_HEADER] = CSRF_VALUE;
    return headers;
  }

  /** One call; a non-2xx answer throws ApiError. 429 is retried after Retry-After (at most 3 times). */
  async request<T>(method: string, path: string, options: RequestOptions = {}, key?: string | null): Promise<T> {
    const extra: Record<string, string> = { ...(options.headers ?? {}) };
    let body: BodyInit | undefined;
    if (options.form) body = options.form;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      extra["Content-Type"] = "application/json";
    }
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(this.url(path), {
          method,
          body,
          headers: this.headers(method, extra, key === undefined ? this.apiKey : key),
          credentials: "same-origin",
          signal: options.signal,
        });
      } catch (error) {
        if (error instanceof DOMException && error.name === "AbortError") throw error;
        throw new ApiError(0, { title: "Network error", detail: "The API could not be reached; check the connection." });
      }
      if (response.status === 429 && attempt < 3) {
        const wait = Number(response.headers.get("Retry-After") ?? "1");
        await this.sleep(Math.min(10, Number.isFinite(wait) && wait > 0 ? wait : 1) * 1000);
        continue;
      }
      const text = await response.text();
      if (!response.ok) {
        const error = new ApiError(response.status, problemFrom(response.status, response.headers.get("Content-Type") ?? "", text));
        if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
        throw error;
      }
      if (!text) return undefined as T;
      const type = response.headers.get("Content-Type") ?? "";
      return (type.includes("json") ? JSON.parse(text) : text) as T;
    }
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, options);
  }

  post<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("POST", path, { ...options, body: body ?? {} });
  }

  put<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>("PUT", path, { ...options, body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  upload<T>(path: string, form: FormData): Promise<T> {
    return this.request<T>("POST", path, { form });
  }
}

/** Where the API is: `<meta name="mediaflow-api">` (CloudFront deployment) or this origin. */
export function apiBase(doc: Document | undefined = typeof document === "undefined" ? undefined : document): string {
  const meta = doc?.querySelector('meta[name="mediaflow-api"]')?.getAttribute("content");
  return meta ? meta.replace(/\/$/, "") : "";
}

/** The message to show for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}

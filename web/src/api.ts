/**
 * The admin UI's one way to the server: fetch with the admin key (kept in session storage, sent as
 * a Bearer token, never put in a URL) for `/v1/organization`, or with a project key for the project
 * APIs (playground, batches, files…). Errors carry the server's OpenAI error envelope.
 */

const ADMIN_KEY = "modelport.adminKey";
const PROJECT_KEY = "modelport.projectKey";

export function adminKey(): string | null {
  return sessionStorage.getItem(ADMIN_KEY);
}

export function setAdminKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(ADMIN_KEY);
  else sessionStorage.setItem(ADMIN_KEY, key);
}

/** The project key the operator chose for the playground and the project object pages. */
export function projectKey(): string | null {
  return sessionStorage.getItem(PROJECT_KEY);
}

export function setProjectKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(PROJECT_KEY);
  else sessionStorage.setItem(PROJECT_KEY, key);
}

/** An error answer: status and the envelope's message, code and param. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly param: string | null;
  constructor(status: number, message: string, code: string | null, param: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  /** Which key to send: the admin key (default) or the chosen project key. */
  as?: "admin" | "project";
  signal?: AbortSignal;
}

/** The raw response of a request with the right key; throws ApiError on an error status. */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const key = options.as === "project" ? projectKey() : adminKey();
  if (key === null) throw new ApiError(401, options.as === "project" ? "Choose a project key first." : "Sign in with an admin key.", "no_key", null);
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const init: RequestInit = { method: options.method ?? "GET", headers };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal !== undefined) init.signal = options.signal;
  const res = await fetch(path, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    let code: string | null = null;
    let param: string | null = null;
    try {
      const body = (await res.json()) as { error?: { message?: string; code?: string | null; param?: string | null } };
      message = body.error?.message ?? message;
      code = body.error?.code ?? null;
      param = body.error?.param ?? null;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiError(res.status, message, code, param);
  }
  return res;
}

/** A JSON request; see `request`. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await request(path, options);
  return (await res.json()) as T;
}

/** A list page as OpenAI's list endpoints shape it. */
export interface ListPage<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

/** Every item of a cursor-paged list (up to `max`). */
export async function listAll<T extends { id: string }>(path: string, options: RequestOptions = {}, max = 1000): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api<ListPage<T>>(`${path}${sep}limit=100${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`, options);
    out.push(...page.data);
    const last = page.data.at(-1);
    if (!page.has_more || last === undefined || out.length >= max) return out;
    after = last.id;
  }
}

/** A usage/cost/stats page of time buckets. */
export interface BucketPage<R> {
  object: "page";
  data: { object: "bucket"; start_time: number; end_time: number; results: R[] }[];
  has_more: boolean;
  next_page: string | null;
}

/** Every bucket of a usage or cost query, following `next_page`. */
export async function allBuckets<R>(path: string): Promise<BucketPage<R>["data"]> {
  const out: BucketPage<R>["data"] = [];
  let page: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep: string = path.includes("?") ? "&" : "?";
    const res: BucketPage<R> = await api<BucketPage<R>>(page === null ? path : `${path}${sep}page=${encodeURIComponent(page)}`);
    out.push(...res.data);
    if (!res.has_more || res.next_page === null) break;
    page = res.next_page;
  }
  return out;
}

import { FetchRefused, safeFetch, type FetchPolicy } from "./safe-fetch.ts";

/** One search result: a page's address, title and the engine's snippet. */
export interface SearchResultItem {
  url: string;
  title: string;
  snippet: string;
}

/** What a search asks for. */
export interface SearchQuery {
  query: string;
  count: number;
  /** Only these domains and their subdomains; empty for any. */
  allowedDomains: readonly string[];
  /** ISO 3166 country of the user, for engines that localise. */
  country: string | undefined;
  signal: AbortSignal;
}

/** A web search engine behind one small interface (config `webSearch.backend`). */
export interface SearchBackend {
  readonly name: string;
  search(query: SearchQuery): Promise<SearchResultItem[]>;
}

/** How to reach a backend. */
export interface SearchBackendConfig {
  backend: "searxng" | "brave" | "tavily" | "json";
  /** The engine's base URL (SearXNG, the generic JSON endpoint; Brave and Tavily have defaults). */
  baseUrl: string | undefined;
  apiKey: string | undefined;
  /** The generic JSON endpoint: the query parameter, and where results and their fields are. */
  json: { queryParam: string; resultsPath: string; urlField: string; titleField: string; snippetField: string };
}

type Json = Record<string, unknown>;

async function getJson(url: string, policy: FetchPolicy, init: { method?: string; headers?: Record<string, string>; body?: string; signal: AbortSignal }): Promise<Json> {
  const answer = await safeFetch(url, policy, { ...init, accept: ["application/json", "application/"] });
  if (answer.status >= 400) throw new FetchRefused("http_error", `The search engine answered ${answer.status}: ${answer.body.toString("utf8").slice(0, 200)}`);
  try {
    return JSON.parse(answer.body.toString("utf8")) as Json;
  } catch {
    throw new FetchRefused("http_error", "The search engine's answer is not JSON");
  }
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Whether `url` is on one of `domains` or a subdomain of one. */
export function onDomains(url: string, domains: readonly string[]): boolean {
  if (domains.length === 0) return true;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return domains.some((d) => {
    const domain = d.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "");
    return host === domain || host.endsWith(`.${domain}`);
  });
}

/** The value at a dotted path (`data.items`) of a JSON object. */
function at(value: unknown, path: string): unknown {
  return path.split(".").filter((p) => p !== "").reduce<unknown>((v, key) => (typeof v === "object" && v !== null ? (v as Json)[key] : undefined), value);
}

/**
 * The backend a config names. Each adapter follows its provider's documented API:
 * - SearXNG: `GET {base}/search?q=…&format=json` → `results[].{url,title,content}` (the instance must
 *   enable the JSON format);
 * - Brave Search: `GET https://api.search.brave.com/res/v1/web/search?q=…&count=…` with
 *   `X-Subscription-Token` → `web.results[].{url,title,description}`;
 * - Tavily: `POST https://api.tavily.com/search` `{query, max_results, include_domains}` with a
 *   Bearer key → `results[].{url,title,content}`;
 * - generic JSON: `GET {base}?{queryParam}=…` → the array at `resultsPath`, fields by name.
 * Domain filters are passed to engines that take them (`site:` for SearXNG and Brave) and applied to
 * every result as well.
 */
export function searchBackend(config: SearchBackendConfig, policy: FetchPolicy): SearchBackend {
  const site = (q: SearchQuery): string => (q.allowedDomains.length === 0 ? q.query : `${q.query} ${q.allowedDomains.map((d) => `site:${d}`).join(" OR ")}`);
  const keep = (q: SearchQuery, items: SearchResultItem[]): SearchResultItem[] => items.filter((i) => /^https?:\/\//.test(i.url) && onDomains(i.url, q.allowedDomains)).slice(0, q.count);
  switch (config.backend) {
    case "searxng":
      return {
        name: "searxng",
        async search(q) {
          const url = new URL("search", `${(config.baseUrl ?? "").replace(/\/+$/, "")}/`);
          url.searchParams.set("q", site(q));
          url.searchParams.set("format", "json");
          if (q.country !== undefined) url.searchParams.set("language", `en-${q.country.toUpperCase()}`);
          const body = await getJson(url.toString(), policy, { signal: q.signal, headers: { accept: "application/json" } });
          const results = Array.isArray(body.results) ? (body.results as Json[]) : [];
          return keep(q, results.map((r) => ({ url: str(r.url), title: str(r.title), snippet: str(r.content) })));
        },
      };
    case "brave":
      return {
        name: "brave",
        async search(q) {
          const url = new URL("web/search", `${(config.baseUrl ?? "https://api.search.brave.com/res/v1").replace(/\/+$/, "")}/`);
          url.searchParams.set("q", site(q));
          url.searchParams.set("count", String(Math.min(20, q.count)));
          if (q.country !== undefined) url.searchParams.set("country", q.country.toUpperCase());
          const body = await getJson(url.toString(), policy, { signal: q.signal, headers: { accept: "application/json", "x-subscription-token": config.apiKey ?? "" } });
          const results = Array.isArray(at(body, "web.results")) ? (at(body, "web.results") as Json[]) : [];
          return keep(q, results.map((r) => ({ url: str(r.url), title: str(r.title), snippet: str(r.description) })));
        },
      };
    case "tavily":
      return {
        name: "tavily",
        async search(q) {
          const url = `${(config.baseUrl ?? "https://api.tavily.com").replace(/\/+$/, "")}/search`;
          const request: Json = { query: q.query, max_results: Math.min(20, q.count) };
          if (q.allowedDomains.length > 0) request.include_domains = q.allowedDomains;
          if (q.country !== undefined) request.country = q.country;
          const body = await getJson(url, policy, { method: "POST", signal: q.signal, headers: { "content-type": "application/json", authorization: `Bearer ${config.apiKey ?? ""}` }, body: JSON.stringify(request) });
          const results = Array.isArray(body.results) ? (body.results as Json[]) : [];
          return keep(q, results.map((r) => ({ url: str(r.url), title: str(r.title), snippet: str(r.content) })));
        },
      };
    case "json":
      return {
        name: "json",
        async search(q) {
          const url = new URL(config.baseUrl ?? "");
          url.searchParams.set(config.json.queryParam, q.query);
          const headers: Record<string, string> = { accept: "application/json" };
          if (config.apiKey !== undefined) headers.authorization = `Bearer ${config.apiKey}`;
          const body = await getJson(url.toString(), policy, { signal: q.signal, headers });
          const found = at(body, config.json.resultsPath);
          const results = Array.isArray(found) ? (found as Json[]) : [];
          return keep(q, results.map((r) => ({ url: str(at(r, config.json.urlField)), title: str(at(r, config.json.titleField)), snippet: str(at(r, config.json.snippetField)) })));
        },
      };
  }
}

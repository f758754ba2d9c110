import type { IncomingMessage, ServerResponse } from "node:http";
import type { Usage } from "../core/chat.ts";
import type { Pricing } from "../core/pricing.ts";
import type { LogFields } from "../logging/logger.ts";
import type { Principal } from "../services/access.ts";

/** What a route reports for metering; set once the model is known. */
export interface Metering {
  model: string;
  usage: Usage | undefined;
  pricing: Pricing | undefined;
  batch: boolean;
}

/** What a route handler gets: the parsed parts of one request, nothing framework-shaped. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Readonly<Record<string, string>>;
  requestId: string;
  /** Aborted when the client goes away or the server gives up on the request. */
  signal: AbortSignal;
  /** Fields added to the request's log line (never keys or prompt text). */
  log: LogFields;
  /** Who is calling; set on every /v1 route. */
  principal: Principal;
  /** Set by routes that run a model, so the request is metered however it ends. */
  metering: Metering | undefined;
  /** The query string's parameters. */
  query: URLSearchParams;
  /** Run once the request has ended, however it ended (releasing limits, say). */
  cleanups: (() => Promise<void>)[];
  readJson(): Promise<unknown>;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** One route: method and a path pattern with `:name` segments. Every `/v1` path needs an API key. */
export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  segments: string[];
}

/** Matches method and path against a fixed table of routes. */
export class Router {
  readonly #routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map((r) => ({ ...r, segments: r.pattern.split("/").filter(Boolean) }));
  }

  /** The matching route and its decoded params, or undefined. Throws URIError on bad escapes. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = path.split("/").filter(Boolean);
    for (const route of this.#routes) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i] as string;
        const part = parts[i] as string;
        if (seg.startsWith(":")) params[seg.slice(1)] = decodeURIComponent(part);
        else ok = seg === part;
      }
      if (ok) return { route, params };
    }
    return undefined;
  }
}

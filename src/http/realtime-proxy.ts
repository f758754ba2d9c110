import { WebSocket, type RawData } from "ws";
import { canonicalUsage } from "../core/openai-usage.ts";
import { toApiError } from "../core/errors.ts";
import type { Usage } from "../core/chat.ts";
import type { RealtimeTarget } from "../providers/provider.ts";

/** What relaying one client socket to an upstream needs. */
export interface RealtimeProxyOptions {
  target: RealtimeTarget;
  /** Extra headers to pass on (the client's `OpenAI-Beta`). */
  headers: Record<string, string>;
  /** Admits a `response.create` (limits, budget); a rejection becomes an `error` event and the event is dropped. */
  admit(): Promise<void>;
  /** A `response.done`'s usage. */
  meter(usage: Usage): void;
}

/** A close code the other side may be sent (1005, 1006 and 1015 are never sent on the wire). */
function sendable(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 || code < 1000 || code >= 5000 ? 1000 : code;
}

/**
 * Relays a client's realtime socket to an upstream deployment's, both ways: the key swapped for the
 * deployment's, `response.create` admitted against the client's limits, usage of each
 * `response.done` metered, and a close on either side closing the other with its code.
 */
export function proxyRealtime(client: WebSocket, options: RealtimeProxyOptions): void {
  const upstream = new WebSocket(options.target.url, { headers: { ...options.target.headers, ...options.headers } });
  const pending: string[] = [];
  const fail = (message: string): void => {
    if (client.readyState === client.OPEN) {
      client.send(JSON.stringify({ type: "error", event_id: "event_upstream", error: { type: "server_error", code: "upstream_error", message, param: null, event_id: null } }));
      client.close(1011, "upstream failed");
    }
  };
  upstream.on("open", () => {
    for (const text of pending.splice(0)) upstream.send(text);
  });
  upstream.on("unexpected-response", (_req, res) => {
    fail(`The upstream deployment '${options.target.deployment}' refused the realtime connection with HTTP ${res.statusCode}.`);
    upstream.terminate();
  });
  upstream.on("error", (error) => fail(`The upstream deployment '${options.target.deployment}' failed: ${error.message}`));
  upstream.on("message", (data: RawData, binary) => {
    const text = data.toString();
    if (!binary && text.includes('"response.done"')) {
      try {
        const event = JSON.parse(text) as { type?: unknown; response?: { usage?: unknown } };
        const usage = event.type === "response.done" ? canonicalUsage(event.response?.usage) : undefined;
        if (usage !== undefined) options.meter(usage);
      } catch {
        // Not JSON: relayed as it is, and nothing to meter.
      }
    }
    if (client.readyState === client.OPEN) client.send(text, { binary });
  });
  upstream.on("close", (code, reason) => {
    if (client.readyState === client.OPEN || client.readyState === client.CONNECTING) client.close(sendable(code), reason.toString());
  });
  client.on("message", (data: RawData, binary) => {
    const text = data.toString();
    const forward = (): void => {
      if (upstream.readyState === upstream.OPEN) upstream.send(text, { binary });
      else if (upstream.readyState === upstream.CONNECTING) pending.push(text);
    };
    if (binary || !text.includes('"response.create"')) {
      forward();
      return;
    }
    options.admit().then(forward, (error: unknown) => {
      const e = toApiError(error);
      let eventId: string | null = null;
      try {
        eventId = (JSON.parse(text) as { event_id?: string }).event_id ?? null;
      } catch {
        // The upstream would have said so; the admission failed first.
      }
      if (client.readyState === client.OPEN) client.send(JSON.stringify({ type: "error", event_id: "event_limit", error: { type: e.type, code: e.code, message: e.message, param: e.param, event_id: eventId } }));
    });
  });
  client.on("close", (code, reason) => {
    if (upstream.readyState === upstream.OPEN) upstream.close(sendable(code), reason.toString());
    else upstream.terminate();
  });
}

import type { ChatRequest, ChatStreamPart } from "../../core/chat.ts";
import type { AdapterTarget, UpstreamAdapter } from "./adapter.ts";
import { readSseData } from "./sse-reader.ts";
import { UpstreamError } from "./upstream-error.ts";

/** One upstream deployment: where to send requests for a public model, and how much of the traffic. */
export interface Deployment extends AdapterTarget {
  /** The provider's wire format. */
  adapter: UpstreamAdapter;
  weight: number;
  /** Milliseconds an attempt may take until its first token. */
  timeoutMs: number;
  /** Parameters the operator says this upstream lacks, on top of what the adapter declares. */
  unsupportedParams: ReadonlySet<string>;
  /** Leave parameters the upstream lacks out of the call instead of answering 400. */
  dropUnsupportedParams: boolean;
  /** This deployment's own limits, requests and tokens per minute; undefined for none. */
  rpm: number | undefined;
  tpm: number | undefined;
}

/**
 * Streams one attempt at a deployment: always upstream streaming with usage, whatever the client
 * asked, so the first token can be awaited before answering and every token is metered. Errors
 * before the first part are UpstreamErrors that say whether a retry may help.
 */
export async function* streamFromDeployment(d: Deployment, request: ChatRequest, dropped: ReadonlySet<string>, signal: AbortSignal): AsyncGenerator<ChatStreamPart> {
  const call = d.adapter.streamCall(d, request, dropped);
  let res: Response;
  try {
    res = await fetch(call.url, { method: "POST", headers: call.headers, body: call.body, signal });
  } catch (error) {
    throw networkError(d, error, signal);
  }
  if (!res.ok) {
    let text = "";
    try {
      text = await res.text();
    } catch {
      // The status alone decides.
    }
    throw d.adapter.errorFrom(d, res.status, res.headers, text);
  }
  if (res.body === null) throw new UpstreamError(502, `The upstream deployment '${d.id}' sent no body.`, { type: "server_error", code: "upstream_error", retryable: true });
  const convert = d.adapter.streamConverter(d);
  try {
    for await (const data of readSseData(res.body)) {
      if (data === "[DONE]") return;
      yield* convert(data);
    }
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw networkError(d, error, signal);
  }
}

/** A failure to reach or read a deployment, as a retryable UpstreamError (a timeout when `signal` fired). */
export function networkError(d: Deployment, error: unknown, signal: AbortSignal): UpstreamError {
  if (signal.aborted) {
    return new UpstreamError(504, `The upstream deployment '${d.id}' did not answer in time.`, { type: "server_error", code: "upstream_timeout", retryable: true });
  }
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  return new UpstreamError(502, `Could not reach the upstream deployment '${d.id}' (${cause}).`, { type: "server_error", code: "upstream_unreachable", retryable: true });
}

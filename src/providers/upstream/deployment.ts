import type { ChatRequest, ChatStreamPart } from "../../core/chat.ts";
import type { ForwardEndpoint } from "../provider.ts";
import type { AdapterTarget, UpstreamAdapter } from "./adapter.ts";
import { isOk, postUpstream, toHeaders, type UpstreamResponse } from "./http-transport.ts";
import { SseDataDecoder } from "../../core/sse-reader.ts";
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
  /** The endpoints relayed to it: the adapter's, narrowed by the operator (`endpoints`); the adapter's when absent. */
  forwards?: ReadonlySet<ForwardEndpoint>;
}

/** The endpoints a deployment relays. */
export function deploymentForwards(d: Pick<Deployment, "adapter" | "forwards">): ReadonlySet<ForwardEndpoint> {
  return d.forwards ?? d.adapter.forwards;
}

/**
 * Streams one attempt at a deployment: always upstream streaming with usage, whatever the client
 * asked, so the first token can be awaited before answering and every token is metered. Errors
 * before the first part are UpstreamErrors that say whether a retry may help. Aborting `signal`
 * aborts the upstream request; so does leaving the stream before its end.
 */
export async function* streamFromDeployment(d: Deployment, request: ChatRequest, dropped: ReadonlySet<string>, signal: AbortSignal): AsyncGenerator<ChatStreamPart> {
  const call = d.adapter.streamCall(d, request, dropped);
  let res: UpstreamResponse;
  try {
    res = await postUpstream(call, signal);
  } catch (error) {
    throw networkError(d, error, signal);
  }
  if (!isOk(res.statusCode)) {
    let text = "";
    try {
      text = await res.body.text();
    } catch {
      // The status alone decides.
    }
    throw d.adapter.errorFrom(d, res.statusCode, toHeaders(res.headers), text);
  }
  const convert = d.adapter.streamConverter(d);
  const body = res.body;
  const events = new SseDataDecoder();
  let done = false;
  try {
    // Not destroyed on leaving the loop: at [DONE] the rest is drained below instead, so the
    // connection goes back to the pool rather than being closed.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      for (const data of events.push(chunk)) {
        if (data === "[DONE]") {
          done = true;
          return;
        }
        yield* convert(data);
      }
    }
    for (const data of events.end()) {
      if (data === "[DONE]") return;
      yield* convert(data);
    }
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw networkError(d, error, signal);
  } finally {
    if (!body.readableEnded) {
      // Whatever follows [DONE] is read and dropped (up to undici's limit); a stream left early, by
      // an error or by our consumer, is aborted (the abort error it then emits has no one to tell).
      if (done) body.dump().catch(() => undefined);
      else body.on("error", () => undefined).destroy();
    }
  }
}

/** A failure to reach or read a deployment, as a retryable UpstreamError (a timeout when `signal` fired). */
export function networkError(d: Deployment, error: unknown, signal: AbortSignal): UpstreamError {
  if (signal.aborted) {
    return new UpstreamError(504, `The upstream deployment '${d.id}' did not answer in time.`, { type: "server_error", code: "upstream_timeout", retryable: true });
  }
  // undici puts the socket's code (ECONNREFUSED, ECONNRESET…) on the error; fetch put it on its cause.
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown };
  const cause = [e.cause?.code, e.code, e.message].find((v) => typeof v === "string" && v !== "") ?? "unknown error";
  return new UpstreamError(502, `Could not reach the upstream deployment '${d.id}' (${String(cause)}).`, { type: "server_error", code: "upstream_unreachable", retryable: true });
}

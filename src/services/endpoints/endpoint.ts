import type { RequestPriority, Usage } from "../../core/chat.ts";
import type { ChatModel } from "../../providers/provider.ts";
import type { Principal } from "../access.ts";

/**
 * What an endpoint needs from whoever calls it: the HTTP routes (admitted through the request gate,
 * metered per request) or a batch (admitted when the batch was created, metered per line).
 */
export interface EndpointCall {
  principal: Principal;
  signal: AbortSignal;
  /** Interactive requests (the API) go ahead of background work (batch lines) in the engine's queues. */
  priority: RequestPriority;
  /**
   * Admits the request once its model is known and before any model work (key restriction, budget,
   * rate limits); `requested` is the name the client used.
   */
  admit(requested: string, model: ChatModel, estimatedTokens: number): Promise<void>;
  /** The model that actually serves (a fallback may take over), for metering and prices. */
  served(model: ChatModel): void;
  /** The tokens used, once known (called again if a later figure replaces an earlier one). */
  usage(usage: Usage): void;
}

/** An endpoint's answer: JSON it built, or an upstream's bytes relayed unchanged. */
export type EndpointAnswer =
  | { kind: "json"; status: number; body: unknown }
  | { kind: "bytes"; status: number; contentType: string; bytes: Buffer; /** The upstream deployment that answered, for logs. */ deployment: string };

/**
 * One OpenAI endpoint as a use case, free of HTTP: `parse` validates a body (400s naming the param),
 * `run` answers it without streaming. The HTTP routes and the batch worker both call these, so a
 * batch line runs exactly as the same request sent to the endpoint would.
 */
export interface Endpoint<Request> {
  parse(body: unknown): Request;
  run(call: EndpointCall, request: Request): Promise<EndpointAnswer>;
}

/** The JSON an answer carries (a relayed body parsed), for callers that keep it (batch output lines). */
export function answerJson(answer: EndpointAnswer): unknown {
  return answer.kind === "json" ? answer.body : (JSON.parse(answer.bytes.toString("utf8")) as unknown);
}

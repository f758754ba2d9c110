import type { ChatRequest, ChatStreamPart } from "../../core/chat.ts";
import { toOpenAiChatBody } from "./convert-request.ts";
import { chunkToParts } from "./convert-stream.ts";
import { readSseData } from "./sse-reader.ts";
import { fromUpstreamResponse, UpstreamError } from "./upstream-error.ts";

/** One upstream deployment: where to send requests for a public model, and how much of the traffic. */
export interface Deployment {
  id: string;
  /** `openai-compatible` (OpenAI, vLLM, Ollama, llama.cpp server, DeepSeek, another Modelport) or `azure-openai`. */
  provider: "openai-compatible" | "azure-openai";
  /** Azure's `api-version` query parameter. */
  apiVersion: string | undefined;
  /** Base URL ending before `/chat/completions`, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** The key itself, read from the environment variable the config names; never logged. */
  apiKey: string | undefined;
  /** The model name the upstream knows. */
  model: string;
  weight: number;
  /** Milliseconds an attempt may take until its first token. */
  timeoutMs: number;
}

/**
 * Streams one attempt at a deployment: always upstream streaming with usage, whatever the client
 * asked, so the first token can be awaited before answering and every token is metered. Errors
 * before the first part are UpstreamErrors that say whether a retry may help.
 */
export async function* streamFromDeployment(d: Deployment, request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamPart> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  let url: string;
  const base = d.baseUrl.replace(/\/+$/, "");
  if (d.provider === "azure-openai") {
    // Azure addresses a deployment by URL and authenticates with an api-key header.
    url = `${base}/openai/deployments/${encodeURIComponent(d.model)}/chat/completions?api-version=${encodeURIComponent(d.apiVersion ?? "2024-10-21")}`;
    if (d.apiKey) headers["api-key"] = d.apiKey;
  } else {
    url = `${base}/chat/completions`;
    if (d.apiKey) headers.authorization = `Bearer ${d.apiKey}`;
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(toOpenAiChatBody(request, d.model, true)),
      signal,
    });
  } catch (error) {
    throw networkError(d, error, signal);
  }
  if (!res.ok) throw await fromUpstreamResponse(res, d.id);
  if (res.body === null) throw new UpstreamError(502, `The upstream deployment '${d.id}' sent no body.`, { type: "server_error", code: "upstream_error", retryable: true });
  try {
    for await (const data of readSseData(res.body)) {
      if (data === "[DONE]") return;
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new UpstreamError(502, `The upstream deployment '${d.id}' sent a malformed stream.`, { type: "server_error", code: "upstream_error", retryable: true });
      }
      const error = (chunk as { error?: { message?: unknown } }).error;
      if (error !== undefined) {
        throw new UpstreamError(502, `The upstream deployment '${d.id}' failed mid-stream: ${typeof error.message === "string" ? error.message : "unknown error"}`, { type: "server_error", code: "upstream_error", retryable: true });
      }
      yield* chunkToParts(chunk);
    }
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw networkError(d, error, signal);
  }
}

function networkError(d: Deployment, error: unknown, signal: AbortSignal): UpstreamError {
  if (signal.aborted) {
    return new UpstreamError(504, `The upstream deployment '${d.id}' did not answer in time.`, { type: "server_error", code: "upstream_timeout", retryable: true });
  }
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  return new UpstreamError(502, `Could not reach the upstream deployment '${d.id}' (${cause}).`, { type: "server_error", code: "upstream_unreachable", retryable: true });
}

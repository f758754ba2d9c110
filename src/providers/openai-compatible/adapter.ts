import type { ChatStreamPart } from "../../core/chat.ts";
import type { AdapterTarget, UpstreamAdapter, UpstreamCall } from "../upstream/adapter.ts";
import { mapUpstreamError, openAiErrorBody, parseStreamEvent, UpstreamError } from "../upstream/upstream-error.ts";
import { isForwardForm, type ForwardBody, type ForwardEndpoint } from "../provider.ts";
import { encodeMultipart } from "../upstream/multipart-body.ts";
import { toOpenAiChatBody } from "./convert-request.ts";
import { fromOpenAiEmbeddings, toOpenAiEmbeddingsBody } from "./convert-embeddings.ts";
import { chunkToParts } from "./convert-stream.ts";

/** OpenAI's other endpoints, which every OpenAI-compatible upstream is taken to have. */
const OPENAI_ENDPOINTS: ReadonlySet<ForwardEndpoint> = new Set<ForwardEndpoint>([
  "/responses", "/embeddings", "/completions", "/moderations", "/audio/speech", "/audio/transcriptions", "/audio/translations", "/realtime",
  "/images/generations", "/images/edits", "/images/variations",
]);

/** An http(s) base URL as the ws(s) URL of its path `path`. */
function socketUrl(base: string, path: string): URL {
  const url = new URL(`${base.replace(/\/+$/, "")}${path}`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function converter(target: AdapterTarget): (data: string) => ChatStreamPart[] {
  return (data) => {
    const chunk = parseStreamEvent(target.id, data);
    const error = (chunk as { error?: { message?: unknown } } | null)?.error;
    if (error !== undefined && error !== null) {
      throw new UpstreamError(502, `The upstream deployment '${target.id}' failed mid-stream: ${typeof error.message === "string" ? error.message : "unknown error"}`, {
        type: "server_error",
        code: "upstream_error",
        retryable: true,
      });
    }
    return chunkToParts(chunk);
  };
}

function call(url: string, headers: Record<string, string>, body: unknown): UpstreamCall {
  const accept = (body as { stream?: unknown }).stream === true ? "text/event-stream" : "application/json";
  return { url, headers: { "content-type": "application/json", accept, ...headers }, body: JSON.stringify(body) };
}

/** A forwarded body with the upstream's model name: JSON, or a form re-encoded for the upstream. */
function forwardedCall(url: string, headers: Record<string, string>, body: ForwardBody, model: string): UpstreamCall {
  if (!isForwardForm(body)) return call(url, headers, { ...body, model });
  const fields = body.fields.map(([name, value]): [string, string] => [name, name === "model" ? model : value]);
  const form = encodeMultipart(fields, [body.file, ...(body.moreFiles ?? [])]);
  return { url, headers: { "content-type": form.contentType, accept: "*/*", ...headers }, body: form.bytes };
}

/**
 * OpenAI's own wire format, spoken by OpenAI, DeepSeek, vLLM, Ollama's `/v1`, llama.cpp server and
 * another Modelport: every parameter passes through as is.
 */
export const openAiCompatibleAdapter: UpstreamAdapter = {
  name: "openai-compatible",
  unsupported: () => [],
  streamCall(target, request, dropped) {
    const auth: Record<string, string> = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
    return call(`${target.baseUrl.replace(/\/+$/, "")}/chat/completions`, auth, toOpenAiChatBody(request, target.model, true, dropped));
  },
  streamConverter: converter,
  forwards: OPENAI_ENDPOINTS,
  forwardCall(target, endpoint, body) {
    const auth: Record<string, string> = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
    return forwardedCall(`${target.baseUrl.replace(/\/+$/, "")}${endpoint}`, auth, body, target.model);
  },
  realtimeCall(target) {
    const url = socketUrl(target.baseUrl, "/realtime");
    url.searchParams.set("model", target.model);
    const headers: Record<string, string> = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
    return { url: url.href, headers };
  },
  embeddingsCall(target, inputs, dimensions) {
    return this.forwardCall(target, "/embeddings", toOpenAiEmbeddingsBody(target.model, inputs, dimensions));
  },
  embeddingsFrom: (target, text, request) => fromOpenAiEmbeddings(target.id, text, request),
  errorFrom: (target, status, headers, body) => mapUpstreamError(target.id, status, headers, openAiErrorBody(body)),
};

/** Azure OpenAI: OpenAI's body, a deployment URL with `api-version`, and an `api-key` header. */
export const azureOpenAiAdapter: UpstreamAdapter = {
  name: "azure-openai",
  unsupported: () => [],
  streamCall(target, request, dropped) {
    const base = target.baseUrl.replace(/\/+$/, "");
    const url = `${base}/openai/deployments/${encodeURIComponent(target.model)}/chat/completions?api-version=${encodeURIComponent(target.apiVersion ?? "2024-10-21")}`;
    return call(url, target.apiKey ? { "api-key": target.apiKey } : {}, toOpenAiChatBody(request, target.model, true, dropped));
  },
  streamConverter: converter,
  forwards: OPENAI_ENDPOINTS,
  forwardCall(target, endpoint, body) {
    const base = target.baseUrl.replace(/\/+$/, "");
    // Azure serves the Responses API only under its v1 path, addressed by deployment name in the body.
    const url =
      endpoint === "/responses"
        ? `${base}/openai/v1/responses`
        : `${base}/openai/deployments/${encodeURIComponent(target.model)}${endpoint}?api-version=${encodeURIComponent(target.apiVersion ?? "2024-10-21")}`;
    return forwardedCall(url, target.apiKey ? { "api-key": target.apiKey } : {}, body, target.model);
  },
  realtimeCall(target) {
    // Azure's GA realtime endpoint, addressed by deployment name.
    const url = socketUrl(target.baseUrl, "/openai/v1/realtime");
    url.searchParams.set("model", target.model);
    const headers: Record<string, string> = target.apiKey ? { "api-key": target.apiKey } : {};
    return { url: url.href, headers };
  },
  embeddingsCall(target, inputs, dimensions) {
    return this.forwardCall(target, "/embeddings", toOpenAiEmbeddingsBody(target.model, inputs, dimensions));
  },
  embeddingsFrom: (target, text, request) => fromOpenAiEmbeddings(target.id, text, request),
  errorFrom: (target, status, headers, body) => mapUpstreamError(target.id, status, headers, openAiErrorBody(body)),
};

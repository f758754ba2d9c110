import { ApiError, request } from "../api.ts";

/** A tool call as the stream builds it up (name in the first delta, arguments in pieces). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface StreamResult {
  content: string;
  toolCalls: ToolCall[];
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  finishReason: string | null;
  /** Milliseconds from sending to the first content or tool-call delta; null if none came. */
  ttftMs: number | null;
  totalMs: number;
}

interface Chunk {
  choices?: {
    delta?: { content?: string | null; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message?: string; code?: string | null; param?: string | null };
}

/**
 * POSTs a streamed chat completion with the project key and reads the SSE body by hand: each
 * `data:` line is one JSON chunk until `[DONE]`. `onProgress` gets the answer so far after each
 * chunk. An error event inside the stream is thrown as an ApiError; aborting `signal` stops reading
 * and throws the AbortError (the caller keeps the partial answer from `onProgress`).
 */
export async function streamChat(body: Record<string, unknown>, signal: AbortSignal, onProgress: (partial: StreamResult) => void): Promise<StreamResult> {
  const started = performance.now();
  const result: StreamResult = { content: "", toolCalls: [], usage: null, finishReason: null, ttftMs: null, totalMs: 0 };
  const res = await request("/v1/chat/completions", { method: "POST", body: { ...body, stream: true, stream_options: { include_usage: true } }, as: "project", signal });
  if (res.body === null) throw new ApiError(res.status, "The server sent no stream.", null, null);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let done = false;

  const handle = (payload: string): void => {
    if (payload === "[DONE]") {
      done = true;
      return;
    }
    const chunk = JSON.parse(payload) as Chunk;
    if (chunk.error !== undefined) throw new ApiError(500, chunk.error.message ?? "The stream failed.", chunk.error.code ?? null, chunk.error.param ?? null);
    if (chunk.usage) result.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta;
      if (typeof delta?.content === "string" && delta.content !== "") {
        result.content += delta.content;
        result.ttftMs ??= performance.now() - started;
      }
      for (const part of delta?.tool_calls ?? []) {
        // The first delta of a call names it; later ones (same index) add to its arguments.
        const call = (result.toolCalls[part.index] ??= { id: part.id ?? "", name: "", arguments: "" });
        if (part.id !== undefined) call.id = part.id;
        call.name += part.function?.name ?? "";
        call.arguments += part.function?.arguments ?? "";
        result.ttftMs ??= performance.now() - started;
      }
      if (choice.finish_reason) result.finishReason = choice.finish_reason;
    }
  };

  try {
    while (!done) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      // Events end with a blank line; a line may arrive split across reads, so keep the tail.
      const lines = buffer.split(/\r?\n/);
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("data:")) handle(line.slice(5).trim());
        if (done) break;
      }
      result.totalMs = performance.now() - started;
      onProgress({ ...result, toolCalls: result.toolCalls.map((c) => ({ ...c })) });
    }
  } finally {
    // Stops the download too when we leave early ([DONE], error, abort).
    void reader.cancel().catch(() => undefined);
  }
  result.totalMs = performance.now() - started;
  return result;
}

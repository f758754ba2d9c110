import { countTokens } from "gpt-tokenizer";
import type { ChatRequest } from "./chat.ts";

/** Output tokens assumed when a request sets no max_tokens, until actual usage is reconciled. */
export const DEFAULT_OUTPUT_ESTIMATE = 256;

/** Tokens per message for role and separators, as OpenAI's chat format spends them. */
const PER_MESSAGE = 4;

/**
 * Prompt tokens of a request counted with OpenAI's o200k tokenizer (gpt-tokenizer): exact for OpenAI's
 * current models and close for others; images by OpenAI's published formula. Used for rate limits
 * before a request runs, and reconciled with the actual usage afterwards.
 */
export function estimatePromptTokens(request: ChatRequest): number {
  let tokens = 3;
  for (const m of request.messages) {
    tokens += PER_MESSAGE + countTokens(m.content);
    if (m.role === "user") for (const p of m.parts) if (p.type === "image") tokens += p.estimatedTokens;
    if (m.role === "assistant") for (const c of m.toolCalls) tokens += countTokens(c.name) + countTokens(c.arguments) + 3;
  }
  for (const t of request.tools) tokens += countTokens(t.name) + countTokens(t.description ?? "") + countTokens(JSON.stringify(t.parameters)) + 8;
  return tokens;
}

/** Prompt tokens plus the output the request may produce: the figure a TPM limit reserves. */
export function estimateTokens(request: ChatRequest): number {
  return estimatePromptTokens(request) + (request.maxTokens ?? DEFAULT_OUTPUT_ESTIMATE) * request.n;
}

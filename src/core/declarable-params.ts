import type { ChatRequest } from "./chat.ts";

/**
 * A parameter a request actually uses, by its OpenAI wire name, with where it sits in the request
 * (for the 400's `param`). A parameter left at its no-op default is not "used", so dropping it or
 * sending it to a provider that lacks it changes nothing.
 */
export interface UsedParam {
  name: string;
  param: string;
}

/** Parameters the upstream adapters may lack, by OpenAI wire name; `image_url` stands for image input. */
export const DECLARABLE_PARAMS = [
  "n", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
  "response_format", "reasoning_effort", "tools", "parallel_tool_calls", "stop", "temperature", "top_p", "image_url",
] as const;

/** One of {@link DECLARABLE_PARAMS}. */
export type DeclarableParam = (typeof DECLARABLE_PARAMS)[number];

/** The declarable parameters this request uses, in a stable order. */
export function usedParams(r: ChatRequest): UsedParam[] {
  const used: UsedParam[] = [];
  const s = r.sampling;
  if (r.n > 1) used.push({ name: "n", param: "n" });
  if (s.seed !== undefined) used.push({ name: "seed", param: "seed" });
  if (s.presencePenalty !== 0) used.push({ name: "presence_penalty", param: "presence_penalty" });
  if (s.frequencyPenalty !== 0) used.push({ name: "frequency_penalty", param: "frequency_penalty" });
  if (s.logitBias.size > 0) used.push({ name: "logit_bias", param: "logit_bias" });
  if (r.topLogprobs !== undefined) used.push({ name: "logprobs", param: "logprobs" });
  if (r.topLogprobs !== undefined && r.topLogprobs > 0) used.push({ name: "top_logprobs", param: "top_logprobs" });
  if (r.responseFormat.type !== "text") used.push({ name: "response_format", param: "response_format" });
  if (r.reasoningEffort !== undefined) used.push({ name: "reasoning_effort", param: "reasoning_effort" });
  if (r.tools.length > 0) used.push({ name: "tools", param: "tools" });
  if (r.tools.length > 0 && !r.parallelToolCalls) used.push({ name: "parallel_tool_calls", param: "parallel_tool_calls" });
  if (r.stop.length > 0) used.push({ name: "stop", param: "stop" });
  if (s.temperature !== 1) used.push({ name: "temperature", param: "temperature" });
  if (s.topP !== 1) used.push({ name: "top_p", param: "top_p" });
  for (const m of r.messages) {
    if (m.role !== "user") continue;
    const image = m.parts.find((p) => p.type === "image");
    if (image !== undefined && image.type === "image") {
      used.push({ name: "image_url", param: image.param });
      break;
    }
  }
  return used;
}

import type { LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from "node-llama-cpp";
import type { TokenLogprob } from "../../core/chat.ts";
import type { CompletionPrompt, PromptTokenLogprob, TextCompletionPart } from "../../core/completion.ts";
import { invalidRequest } from "../../core/errors.ts";
import { generateChoice } from "./choice-generator.ts";
import { scorePrompt } from "./prompt-scorer.ts";
import type { TokenBytes } from "./token-bytes.ts";
import { TokenTextDecoder } from "./token-text-decoder.ts";
import type { TokenSampler } from "./token-sampler.ts";

/** One prompt of a raw text completion as the engine evaluates it. */
export interface PreparedPrompt {
  tokens: Token[];
  /** The prompt as text: what `echo` shows, and where the completion's text offsets start. */
  text: string;
  /** Index of the first token the client gave (after a BOS the engine added). */
  shownFrom: number;
}

/** The FIM tokens of a model that has all three, else undefined. */
function infillTokens(model: LlamaModel): { prefix: Token; suffix: Token; middle: Token } | undefined {
  const { prefix, suffix, middle } = model.tokens.infill;
  return prefix !== null && suffix !== null && middle !== null ? { prefix, suffix, middle } : undefined;
}

/**
 * Tokenizes one prompt with no chat template: text gets the BOS token when the model wants one;
 * token ids are taken exactly as given (checked against the vocabulary). With a `suffix`, the
 * prompt is laid out for fill-in-the-middle with the model's FIM tokens, as llama.cpp's infill
 * does: [BOS] FIM_PRE prefix FIM_SUF suffix FIM_MID. With `specialTokens`, control-token text in
 * a string prompt is read as those tokens (a model's own template), and a BOS it starts with is not
 * doubled. Problems are 400s naming the param.
 */
export function preparePrompt(
  model: LlamaModel,
  modelId: string,
  vocabularySize: number,
  prompt: CompletionPrompt,
  suffix: string | undefined,
  param: string,
  specialTokens = false,
): PreparedPrompt {
  let bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  let body: Token[];
  let text: string;
  if (typeof prompt === "string") {
    body = model.tokenize(prompt, specialTokens);
    if (specialTokens && bos !== null && body[0] === bos) bos = null;
    text = prompt;
  } else {
    prompt.forEach((id, i) => {
      if (id >= vocabularySize) {
        throw invalidRequest(`Invalid '${param}[${i}]': token ${id} is outside this model's vocabulary of ${vocabularySize} tokens.`, param, "invalid_value");
      }
    });
    body = prompt as Token[];
    // As the echoed tokens read: special tokens (a BOS the client included) add no text.
    text = model.detokenize(body, false);
  }
  if (suffix !== undefined) {
    const fim = infillTokens(model);
    if (fim === undefined) {
      throw invalidRequest(`The model '${modelId}' has no fill-in-the-middle tokens, so 'suffix' cannot be honoured.`, "suffix", "unsupported_parameter");
    }
    const lead = bos !== null && typeof prompt === "string" ? [bos] : [];
    const tokens = [...lead, fim.prefix, ...body, fim.suffix, ...model.tokenize(suffix, false), fim.middle];
    return { tokens, text, shownFrom: tokens.length };
  }
  if (typeof prompt !== "string" || bos === null) {
    if (body.length === 0) throw invalidRequest(`Invalid '${param}': the prompt has no tokens, and this model has no BOS token to start from.`, param, "empty_string");
    return { tokens: body, text, shownFrom: 0 };
  }
  return { tokens: [bos, ...body], text, shownFrom: 1 };
}

/**
 * The 400 for a prompt that does not fit the context with its `max_tokens`, naming `prompt` when the
 * prompt alone is too long and `max_tokens` otherwise. A prompt may fill the context exactly when
 * nothing is generated (scoring it with `echo` and `max_tokens: 0`).
 */
export function checkPromptLength(promptTokens: number, maxTokens: number, contextSize: number): void {
  const alone = maxTokens === 0 ? promptTokens > contextSize : promptTokens >= contextSize;
  if (!alone && promptTokens + maxTokens <= contextSize) return;
  const detail = alone
    ? `However, your prompt is ${promptTokens} tokens. Please reduce the prompt.`
    : `However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in your prompt, ${maxTokens} for the completion). Please reduce the prompt or max_tokens.`;
  throw invalidRequest(`This model's maximum context length is ${contextSize} tokens. ${detail}`, alone ? "prompt" : "max_tokens", "context_length_exceeded");
}

/** What one choice of a raw text completion needs. */
export interface CompletionChoicePlan {
  index: number;
  prompt: PreparedPrompt;
  /** Prompt tokens not yet in the sequence's state. */
  input: Token[];
  /** Sampled tokens allowed. */
  limit: number;
  stops: readonly string[];
  /** Alternatives per prompt token when the prompt is scored; undefined when it is not. */
  promptLogprobs: number | undefined;
  /** The grammar the generated text must follow; undefined for free text. */
  grammar: LlamaGrammar | undefined;
}

/**
 * The prompt's shown tokens with their logprobs: the first token of the sequence has none (nothing
 * precedes it); a token after the BOS the engine added has a real one. Token strings are the text
 * each token adds there, so that they add up to the prompt's text: the detokenizer drops the space
 * a SentencePiece vocabulary marks at the start of a text, and the alternatives at that position
 * are shown the same way.
 */
function promptLogprobs(model: LlamaModel, prompt: PreparedPrompt, scored: readonly TokenLogprob[]): PromptTokenLogprob[] {
  const decoder = new TokenTextDecoder(model);
  return prompt.tokens.slice(prompt.shownFrom).map((token, j) => {
    const i = prompt.shownFrom + j;
    const text = decoder.push(token);
    const score = i === 0 ? undefined : scored[i - 1];
    if (score === undefined) return { token: text, logprob: null, topLogprobs: null };
    const dropped = score.token !== text && score.token.endsWith(text) ? score.token.slice(0, score.token.length - text.length) : "";
    const topLogprobs = dropped === "" ? score.topLogprobs : score.topLogprobs.map((t) => (t.token.startsWith(dropped) ? { ...t, token: t.token.slice(dropped.length) } : t));
    return { token: text, logprob: score.logprob, topLogprobs };
  });
}

/**
 * Generates one raw text completion choice: the prompt part (scored when `echo` asks for logprobs),
 * then plain text through the chat path's choice generator (sampler, stop buffer, text decoder) in
 * text mode. Returns the reasoning tokens spent (none: raw completion does not think).
 */
export async function* generateCompletionChoice(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  sampler: TokenSampler,
  bytes: TokenBytes,
  plan: CompletionChoicePlan,
  signal: AbortSignal,
  evaluationPriority: 1 | 5,
): AsyncGenerator<TextCompletionPart, number> {
  const { index: choice, prompt } = plan;
  let input = plan.input;
  if (plan.promptLogprobs !== undefined) {
    const scored = await scorePrompt(sequence, prompt.tokens, plan.promptLogprobs, bytes, evaluationPriority);
    input = prompt.tokens.slice(-1);
    yield { type: "prompt", choice, text: prompt.text, logprobs: promptLogprobs(model, prompt, scored) };
  } else {
    yield { type: "prompt", choice, text: prompt.text };
  }
  if (plan.limit <= 0 || signal.aborted) {
    yield { type: "finish", choice, finishReason: "length" };
    return 0;
  }
  const parts = generateChoice(model, sampler, { index: choice, input, limit: plan.limit, stops: plan.stops, mode: plan.grammar === undefined ? { type: "text" } : { type: "text", grammar: plan.grammar }, reasoning: undefined }, signal);
  for (let step = await parts.next(); !step.done; step = await parts.next()) {
    const part = step.value;
    // Text mode yields only text and the finish.
    if (part.type === "text-delta" || part.type === "finish") yield part;
  }
  return 0;
}

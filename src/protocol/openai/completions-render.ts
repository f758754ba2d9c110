import type { FinishReason, TokenLogprob, Usage } from "../../core/chat.ts";
import type { PromptTokenLogprob, TextCompletionPart } from "../../core/completion.ts";
import { encodeSseJson } from "../../core/sse.ts";
import { renderUsage, type CompletionEnvelope } from "./chat-completions-render.ts";
import { obfuscation } from "./obfuscation.ts";

/** One finished choice of a raw text completion, before rendering. */
export interface CompletedTextChoice {
  /** The prompt as text: echoed when asked, and where text offsets start otherwise. */
  promptText: string;
  /** The prompt's tokens with their logprobs, when `echo` asked for logprobs. */
  promptLogprobs: readonly PromptTokenLogprob[] | undefined;
  text: string;
  /** The generated tokens' logprobs, when computed. */
  logprobs: readonly TokenLogprob[] | undefined;
  finishReason: FinishReason;
}

/** How the client asked for the output: whether the prompt is echoed, and alternatives per token (undefined: no logprobs). */
export interface CompletionRenderOptions {
  echo: boolean;
  logprobs: number | undefined;
}

/** OpenAI's legacy logprobs object: four parallel arrays, one entry per token. */
export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** Characters as Python counts them (code points), which is how OpenAI's text offsets count. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Builds legacy logprobs for one choice, keeping the running text offset: character offsets count
 * from the start of the prompt, echoed or not, as OpenAI's do. `top_logprobs` maps the `k` most
 * likely tokens and always the chosen one (so up to k + 1 entries, as OpenAI documents).
 */
export class LegacyLogprobsBuilder {
  #offset: number;

  constructor(offset = 0) {
    this.#offset = offset;
  }

  /** Moves the offset past text that carries no logprobs (the prompt, when it is not echoed). */
  skip(text: string): void {
    this.#offset += codePoints(text);
  }

  build(entries: readonly (TokenLogprob | PromptTokenLogprob)[]): LegacyLogprobs {
    const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for (const e of entries) {
      out.tokens.push(e.token);
      out.token_logprobs.push(e.logprob);
      out.text_offset.push(this.#offset);
      this.#offset += codePoints(e.token);
      if (e.logprob === null || e.topLogprobs === null) {
        out.top_logprobs.push(null);
        continue;
      }
      const top: Record<string, number> = {};
      for (const t of e.topLogprobs) if (!(t.token in top)) top[t.token] = t.logprob;
      if (!(e.token in top)) top[e.token] = e.logprob;
      out.top_logprobs.push(top);
    }
    return out;
  }
}

/** The rendered text and logprobs of one choice. */
function renderChoice(c: CompletedTextChoice, index: number, options: CompletionRenderOptions): Record<string, unknown> {
  let logprobs: LegacyLogprobs | null = null;
  if (options.logprobs !== undefined) {
    const builder = new LegacyLogprobsBuilder();
    const prompt = options.echo ? (c.promptLogprobs ?? []) : [];
    if (!options.echo) builder.skip(c.promptText);
    logprobs = builder.build([...prompt, ...(c.logprobs ?? [])]);
  }
  return { text: options.echo ? c.promptText + c.text : c.text, index, logprobs, finish_reason: c.finishReason };
}

/** Renders a `text_completion` object (`CreateCompletionResponse`); choices are in their wire order. */
export function renderCompletion(env: CompletionEnvelope, choices: readonly CompletedTextChoice[], usage: Usage, options: CompletionRenderOptions): Record<string, unknown> {
  return {
    id: env.id,
    object: "text_completion",
    created: env.created,
    model: env.model,
    system_fingerprint: env.systemFingerprint,
    choices: choices.map((c, index) => renderChoice(c, index, options)),
    usage: renderUsage(usage),
  };
}

/**
 * Serialises the SSE frames of a streamed completion: `text_completion` chunks (the same shape as
 * the whole object, as the spec says) carrying each choice's text as it comes (the echoed prompt
 * first), a chunk with its `finish_reason`, and with `include_usage` a last chunk with empty
 * `choices` and the usage (`usage: null` on every other chunk).
 */
export class CompletionChunkSerializer {
  readonly #env: CompletionEnvelope;
  readonly #options: CompletionRenderOptions & { includeUsage: boolean; includeObfuscation: boolean };
  readonly #builders = new Map<number, LegacyLogprobsBuilder>();

  constructor(env: CompletionEnvelope, options: CompletionRenderOptions & { includeUsage: boolean; includeObfuscation: boolean }) {
    this.#env = env;
    this.#options = options;
  }

  #builder(choice: number): LegacyLogprobsBuilder {
    let builder = this.#builders.get(choice);
    if (builder === undefined) {
      builder = new LegacyLogprobsBuilder();
      this.#builders.set(choice, builder);
    }
    return builder;
  }

  /** The frame `part` produces, or undefined for none (the prompt when not echoed; usage unless asked for). */
  chunk(part: TextCompletionPart): string | undefined {
    const wantLogprobs = this.#options.logprobs !== undefined;
    switch (part.type) {
      case "prompt": {
        const builder = this.#builder(part.choice);
        if (!this.#options.echo) {
          builder.skip(part.text);
          return undefined;
        }
        return this.#frame(part.choice, part.text, wantLogprobs ? builder.build(part.logprobs ?? []) : null, null);
      }
      case "text-delta":
        return this.#frame(part.choice, part.text, wantLogprobs ? this.#builder(part.choice).build(part.logprobs ?? []) : null, null);
      case "finish":
        return this.#frame(part.choice, "", wantLogprobs ? this.#builder(part.choice).build([]) : null, part.finishReason);
      case "usage":
        if (!this.#options.includeUsage) return undefined;
        return encodeSseJson({ ...this.#head(), choices: [], usage: renderUsage(part.usage) });
    }
  }

  #head(): Record<string, unknown> {
    const env = this.#env;
    return { id: env.id, object: "text_completion", created: env.created, model: env.model, system_fingerprint: env.systemFingerprint };
  }

  #frame(index: number, text: string, logprobs: LegacyLogprobs | null, finishReason: FinishReason | null): string {
    const chunk: Record<string, unknown> = { ...this.#head(), choices: [{ text, index, logprobs, finish_reason: finishReason }] };
    if (this.#options.includeUsage) chunk.usage = null;
    if (this.#options.includeObfuscation) chunk.obfuscation = obfuscation(text.length);
    return encodeSseJson(chunk);
  }
}

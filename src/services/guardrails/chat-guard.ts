import type { ChatMessage, ChatRequest, ChatStreamPart, ContentPart, TokenLogprob } from "../../core/chat.ts";
import type { TextCompletionPart } from "../../core/completion.ts";
import { ApiError } from "../../core/errors.ts";
import type { GuardEvent } from "../../core/request-trail.ts";
import { estimatePromptTokens } from "../../core/token-estimate.ts";
import { PlaceholderVault } from "../../guard/pii/placeholder-vault.ts";
import { checkTexts, type Blocked, type CompiledPolicy, type Moderate } from "./compiled-policy.ts";
import { OutputChain } from "./stream-checks.ts";

/** The 400 a blocked input gets: the check by name, and what it found. */
export function contentPolicyViolation(blocked: Blocked): ApiError {
  const what = blocked.category === null ? "" : ` (${blocked.category})`;
  return new ApiError(400, `This request was blocked by the project's guardrail '${blocked.check}'${what}.`, { type: "invalid_request_error", code: "content_policy_violation" });
}

/** A message's texts as one list: each text part of a user message, else its content. */
function messageTexts(m: ChatMessage): string[] {
  if (m.role === "user") {
    const texts = m.parts.filter((p): p is Extract<ContentPart, { type: "text" }> => p.type === "text").map((p) => p.text);
    return texts.length > 0 ? texts : [m.content];
  }
  return [m.content];
}

/** A message with its texts replaced (as many as `messageTexts` gave), in order. */
function withTexts(m: ChatMessage, texts: readonly string[]): ChatMessage {
  if (m.role === "user") {
    const hasParts = m.parts.some((p) => p.type === "text");
    if (!hasParts) return { ...m, content: texts[0] ?? m.content };
    let i = 0;
    const parts = m.parts.map((p): ContentPart => (p.type === "text" ? { type: "text", text: texts[i++] ?? p.text } : p));
    return { ...m, content: parts.filter((p) => p.type === "text").map((p) => (p as { text: string }).text).join("\n"), parts };
  }
  return { ...m, content: texts[0] ?? m.content };
}

/**
 * One chat request's guardrails: its input checks before the model, its output checks on each
 * choice's text as it streams. Placeholders are numbered across both (one vault per request), so a
 * value redacted on the way in can be restored on the way out. What triggered goes to `events`.
 */
export class ChatGuard {
  readonly #policy: CompiledPolicy;
  readonly #moderate: Moderate;
  readonly #events: GuardEvent[];
  readonly #vault = new PlaceholderVault();

  constructor(policy: CompiledPolicy, moderate: Moderate, events: GuardEvent[]) {
    this.#policy = policy;
    this.#moderate = moderate;
    this.#events = events;
  }

  /** Runs the input checks; the request as they left it (redacted), or a 400 `content_policy_violation`. */
  async checkRequest(request: ChatRequest, servedBy: string, signal: AbortSignal): Promise<ChatRequest> {
    if (this.#policy.input.length === 0) return request;
    const counts = request.messages.map((m) => messageTexts(m).length);
    const texts = request.messages.flatMap(messageTexts);
    const users = new Set<number>();
    let at = 0;
    request.messages.forEach((m, i) => {
      for (let k = 0; k < (counts[i] ?? 0); k++) if (m.role === "user") users.add(at + k);
      at += counts[i] ?? 0;
    });
    const outcome = await checkTexts("input", this.#policy.input, texts, {
      vault: this.#vault,
      moderate: this.#moderate,
      signal,
      models: [request.model, servedBy],
      promptTokens: estimatePromptTokens(request),
      // Moderation reads what users wrote, not the operator's system prompt or tool output.
      moderated: (i) => users.has(i),
    });
    this.#events.push(...outcome.events);
    if (outcome.blocked !== undefined) throw contentPolicyViolation(outcome.blocked);
    if (outcome.texts.every((t, i) => t === texts[i])) return request;
    let next = 0;
    const messages = request.messages.map((m, i) => {
      const n = counts[i] ?? 0;
      const mine = outcome.texts.slice(next, next + n);
      next += n;
      return withTexts(m, mine);
    });
    return { ...request, messages };
  }

  /**
   * Runs the input checks on plain prompts (raw completions): the prompts as they left them, or a 400
   * `content_policy_violation`. Every prompt counts as the user's.
   */
  async checkPrompts(prompts: readonly string[], models: readonly string[], promptTokens: number, signal: AbortSignal): Promise<string[]> {
    if (this.#policy.input.length === 0) return [...prompts];
    const outcome = await checkTexts("input", this.#policy.input, prompts, { vault: this.#vault, moderate: this.#moderate, signal, models, promptTokens });
    this.#events.push(...outcome.events);
    if (outcome.blocked !== undefined) throw contentPolicyViolation(outcome.blocked);
    return outcome.texts;
  }

  /** Whether answers need guarding at all (output checks, or values to restore). */
  get guardsOutput(): boolean {
    return this.#policy.output.length > 0 || this.#policy.restoresOutput;
  }

  /**
   * The model's parts with each choice's text passed through the output checks: text is released as
   * the checks allow, and a choice an output check blocks ends with `finish_reason: "content_filter"`
   * (its later text and tool calls are dropped). Logprobs ride on the next text released.
   */
  guardStream<P extends ChatStreamPart | TextCompletionPart>(parts: AsyncIterator<P>, signal: AbortSignal): AsyncIterator<P> {
    if (!this.guardsOutput) return parts;
    const policy = this.#policy;
    const ctx = { vault: this.#vault, moderate: this.#moderate, signal };
    const events = this.#events;
    const choices = new Map<number, { chain: OutputChain; blocked: boolean; logprobs: TokenLogprob[] }>();
    const state = (choice: number) => {
      let s = choices.get(choice);
      if (s === undefined) {
        s = { chain: new OutputChain(policy.output, policy.restoresOutput, ctx, events), blocked: false, logprobs: [] };
        choices.set(choice, s);
      }
      return s;
    };
    // The parts made here (text deltas, finishes) are ones both chat and raw completion streams have.
    const made = (part: ChatStreamPart): P => part as P;
    async function* guarded(): AsyncGenerator<P> {
      try {
        for (;;) {
          const next = await parts.next();
          if (next.done) return;
          const part = next.value;
          if (part.type === "text-delta") {
            const s = state(part.choice);
            if (s.blocked) continue;
            if (part.logprobs !== undefined) s.logprobs.push(...part.logprobs);
            const step = await s.chain.push(part.text);
            if (step.blocked !== undefined) s.blocked = true;
            if (step.emit !== "") {
              const logprobs = s.logprobs.length > 0 ? s.logprobs.splice(0) : undefined;
              yield made({ type: "text-delta", choice: part.choice, text: step.emit, ...(logprobs !== undefined ? { logprobs } : {}) });
            }
            if (s.blocked) yield made({ type: "finish", choice: part.choice, finishReason: "content_filter" });
          } else if (part.type === "finish") {
            const s = state(part.choice);
            if (s.blocked) continue;
            const step = await s.chain.end();
            if (step.emit !== "") yield made({ type: "text-delta", choice: part.choice, text: step.emit });
            yield made({ type: "finish", choice: part.choice, finishReason: step.blocked !== undefined ? "content_filter" : part.finishReason });
            s.blocked = true;
          } else if ((part.type === "tool-call-start" || part.type === "tool-call-delta") && choices.get(part.choice)?.blocked === true) {
            continue;
          } else {
            yield part;
          }
        }
      } finally {
        // Stopped early (the client left): the model's stream must end too, so its sequence is freed.
        await parts.return?.();
      }
    }
    return guarded();
  }
}

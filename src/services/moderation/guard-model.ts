/**
 * A moderation backend on a local guard model (Llama Guard 3, ShieldGemma): each text is put in the
 * model's own prompt, its answer constrained by a grammar, and scored from the probabilities of the
 * answer's first token. docs/moderation-guard-models.md explains the mapping and the scores.
 */
import type { TokenLogprob } from "../../core/chat.ts";
import type { TextCompletionRequest } from "../../core/completion.ts";
import { ApiError } from "../../core/errors.ts";
import { emptyVerdict, MODERATION_CATEGORIES, type ModerationCategory, type ModerationVerdict } from "../../guard/moderation-categories.ts";
import type { ChatModel } from "../../providers/provider.ts";
import { coveredCategories, llamaGuardScores, parseLlamaGuardAnswer, shieldGemmaScores, SHIELDGEMMA_POLICIES, type GuardFamily } from "./guard-categories.ts";
import { LLAMA_GUARD_GRAMMAR, LLAMA_GUARD_UNSAFE_GRAMMAR, llamaGuardPrompt, SHIELDGEMMA_GRAMMAR, shieldGemmaPrompts, type GuardRole } from "./guard-prompts.ts";

/** How a guard model classifier is built. */
export interface GuardModelOptions {
  /** A local model (`capabilities.completions` is `engine`) holding the guard model's GGUF. */
  model: ChatModel;
  family: GuardFamily;
  /** Score at or above which a category is flagged; 0.5 by default. */
  threshold?: number;
}

/** One text to classify, and who wrote it (a user by default). */
export interface GuardInput {
  text: string;
  role?: GuardRole;
}

/** One finished completion choice: its text and its first token's logprobs. */
interface Answer {
  text: string;
  first: TokenLogprob | undefined;
}

/** Alternatives asked for at each generated token: the first token's are the score. */
const TOP_LOGPROBS = 5;
/** Room for "unsafe" and several codes, however the tokenizer splits them. */
const LLAMA_GUARD_MAX_TOKENS = 24;

/**
 * P(positive) from a token's logprobs, normalised over the candidates that begin one of the two
 * answers (a token is a candidate for a word when the word starts with its text, or it with the
 * word: "un" for "unsafe"). The sampled token is a candidate too. Undefined when no candidate
 * begins either word (no logprobs came back).
 */
export function twoWayProbability(first: TokenLogprob | undefined, positive: string, negative: string): number | undefined {
  if (first === undefined) return undefined;
  const seen = new Map<string, number>();
  for (const { token, logprob } of [first, ...first.topLogprobs]) if (!seen.has(token)) seen.set(token, logprob);
  let pos = 0;
  let neg = 0;
  const begins = (t: string, word: string): boolean => t !== "" && (word.startsWith(t) || t.startsWith(word));
  for (const [token, logprob] of seen) {
    // A SentencePiece vocabulary marks a leading space; either way it is the same word.
    const t = token.trimStart();
    if (begins(t, positive)) pos += Math.exp(logprob);
    else if (begins(t, negative)) neg += Math.exp(logprob);
  }
  const total = pos + neg;
  return total > 0 ? pos / total : undefined;
}

/**
 * Classifies texts with a local guard model, one verdict per text in OpenAI's categories. Texts are
 * sent as one raw completion request (several prompts), so the engine batches them across its
 * sequences. Images are not its business: callers send text only.
 */
export class GuardModelClassifier {
  readonly family: GuardFamily;
  readonly threshold: number;
  readonly #model: ChatModel;
  readonly #covered: ReadonlySet<ModerationCategory>;

  constructor(options: GuardModelOptions) {
    const threshold = options.threshold ?? 0.5;
    if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`A guard model's threshold must be between 0 and 1, not ${threshold}.`);
    if (options.model.capabilities.completions !== "engine") {
      // Only the local engine honours grammars and control tokens in raw completions.
      throw new Error(`The guard model '${options.model.descriptor.id}' must be a local GGUF model: upstream models cannot run a guard model's prompt.`);
    }
    this.family = options.family;
    this.threshold = threshold;
    this.#model = options.model;
    this.#covered = coveredCategories(options.family);
  }

  /**
   * One verdict per text, in order; a bare string is a user's text (so this also serves as a
   * moderation backend's `classify`). Rejects with the signal's reason when it aborts.
   */
  async classify(texts: readonly (GuardInput | string)[], signal: AbortSignal): Promise<ModerationVerdict[]> {
    signal.throwIfAborted();
    if (texts.length === 0) return [];
    const inputs = texts.map((t) => (typeof t === "string" ? { text: t } : t));
    return this.family === "llama-guard-3" ? this.#llamaGuard(inputs, signal) : this.#shieldGemma(inputs, signal);
  }

  async #llamaGuard(texts: readonly GuardInput[], signal: AbortSignal): Promise<ModerationVerdict[]> {
    const prompts = texts.map((t) => llamaGuardPrompt(t.text, t.role));
    const answers = await this.#complete(prompts, LLAMA_GUARD_GRAMMAR, LLAMA_GUARD_MAX_TOKENS, TOP_LOGPROBS, signal);
    const parsed = answers.map((a) => parseLlamaGuardAnswer(a.text));
    const pUnsafe = answers.map((a, i) => twoWayProbability(a.first, "unsafe", "safe") ?? (parsed[i]?.unsafe === true ? 1 : 0));
    // Below 0.5 the model answers "safe" and names no hazard; a lower threshold still wants to know which.
    const unnamed = parsed.flatMap((p, i) => (!p.unsafe && (pUnsafe[i] ?? 0) >= this.threshold && (pUnsafe[i] ?? 0) > 0 ? [i] : []));
    if (unnamed.length > 0) {
      const forced = await this.#complete(unnamed.map((i) => prompts[i] as string), LLAMA_GUARD_UNSAFE_GRAMMAR, LLAMA_GUARD_MAX_TOKENS, undefined, signal);
      unnamed.forEach((i, j) => (parsed[i] = parseLlamaGuardAnswer(forced[j]?.text ?? "")));
    }
    return parsed.map((p, i) => this.#verdict(llamaGuardScores(p.codes, pUnsafe[i] ?? 0)));
  }

  async #shieldGemma(texts: readonly GuardInput[], signal: AbortSignal): Promise<ModerationVerdict[]> {
    const policies = SHIELDGEMMA_POLICIES.length;
    const prompts = texts.flatMap((t) => shieldGemmaPrompts(t.text, t.role));
    const answers = await this.#complete(prompts, SHIELDGEMMA_GRAMMAR, 1, TOP_LOGPROBS, signal);
    const pYes = answers.map((a) => twoWayProbability(a.first, "Yes", "No") ?? (/^\s*Y/.test(a.text) ? 1 : 0));
    return texts.map((_, i) => this.#verdict(shieldGemmaScores(pYes.slice(i * policies, (i + 1) * policies))));
  }

  /** A verdict from per-category scores: flags at the threshold, text input types where the family looks. */
  #verdict(scores: ReadonlyMap<ModerationCategory, number>): ModerationVerdict {
    const verdict = emptyVerdict();
    for (const category of MODERATION_CATEGORIES) {
      if (!this.#covered.has(category)) continue;
      const score = Math.min(1, Math.max(0, scores.get(category) ?? 0));
      verdict.scores[category] = score;
      verdict.categories[category] = score >= this.threshold && score > 0;
      verdict.appliedInputTypes[category] = ["text"];
    }
    // As OpenAI's: flagged when any category is.
    verdict.flagged = MODERATION_CATEGORIES.some((c) => verdict.categories[c]);
    return verdict;
  }

  /** Runs the prompts as one greedy raw completion under `grammar`; answers in prompt order. */
  async #complete(prompts: readonly string[], grammar: string, maxTokens: number, logprobs: number | undefined, signal: AbortSignal): Promise<Answer[]> {
    const request: TextCompletionRequest = {
      model: this.#model.descriptor.id,
      prompts,
      suffix: undefined,
      n: 1,
      maxTokens,
      stop: [],
      sampling: { temperature: 0, topP: 1, seed: 0, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
      logprobs,
      promptLogprobs: false,
      priority: "interactive",
      grammar,
      specialTokens: true,
    };
    const answers: Answer[] = prompts.map(() => ({ text: "", first: undefined }));
    try {
      for await (const part of this.#model.completeText(request, signal)) {
        if (part.type !== "text-delta") continue;
        const answer = answers[part.choice];
        if (answer === undefined) continue;
        answer.text += part.text;
        answer.first ??= part.logprobs?.[0];
      }
    } catch (error) {
      signal.throwIfAborted();
      throw inputError(error);
    }
    // The engine ends an aborted generation quietly, with what it had: that is no verdict.
    signal.throwIfAborted();
    return answers;
  }
}

/** An engine 400 about the prompt (too long for the guard model's context) is about the input. */
function inputError(error: unknown): unknown {
  if (!(error instanceof ApiError) || error.status !== 400 || error.param === null || !/^(prompt|max_tokens)/.test(error.param)) return error;
  return new ApiError(400, `The input is too long for the guard model: ${error.message}`, { type: error.type, code: error.code, param: "input" });
}

import {
  LlamaGrammarEvaluationState,
  type EvaluationPriority,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type SequenceEvaluateOptions,
  type Token,
  type TokenBias,
} from "node-llama-cpp";
import type { TokenLogprob } from "../../core/chat.ts";
import type { TokenBytes } from "./token-bytes.ts";

/** Sampling settings that stay fixed for one choice. */
export interface SamplerSettings {
  temperature: number;
  topP: number;
  /** Candidates kept before top_p; 0 keeps the whole vocabulary (exact, but slow on large vocabularies). */
  topK: number;
  seed: number;
  presencePenalty: number;
  frequencyPenalty: number;
  tokenBias: TokenBias | undefined;
  /** Alternatives per token when logprobs are wanted (0–20); undefined for none. */
  topLogprobs: number | undefined;
  evaluationPriority: EvaluationPriority;
  /**
   * Asked before each step; a promise makes the sampler wait before its sequence takes part in the
   * next batch again (background work stepping aside while an interactive prompt is evaluated).
   */
  pause?: () => Promise<void> | undefined;
  /** Called after each sampled token. */
  onToken?: () => void;
}

/** One sampled token, with its logprob when asked for. */
export interface Sampled {
  token: Token;
  logprob?: TokenLogprob;
}

/** Spreads phase and step numbers over the seed space, so each gets its own deterministic stream. */
function mixSeed(seed: number, n: number): number {
  return (seed + Math.imul(n, 0x9e3779b1)) >>> 0;
}

/**
 * A token's log probability and the `k` most likely tokens at one position, from the raw logits the
 * engine returned there (at least the top `k`, the maximum and `token`) and their total weight
 * Σexp(logit − max): logprob = logit − max − ln(total).
 */
export function logprobFromLogits(logits: ReadonlyMap<Token, number>, totalLogitWeight: number | undefined, token: Token, k: number, bytes: TokenBytes): TokenLogprob {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits.values()) max = Math.max(max, value);
  const norm = max + Math.log(totalLogitWeight ?? 1);
  const entry = (t: Token, logit: number) => ({ token: bytes.text(t), logprob: logit - norm, bytes: bytes.bytes(t) });
  const sorted = [...logits.entries()].sort((a, b) => b[1] - a[1]);
  const top = sorted.slice(0, k).map(([t, logit]) => entry(t, logit));
  return { ...entry(token, logits.get(token) ?? max), topLogprobs: top };
}

/** What the choice generator needs from a sampler: phases of sampled tokens and their count. */
export interface Sampler {
  readonly generated: readonly Token[];
  readonly wantsLogprobs: boolean;
  phase(input: Token[], grammar: LlamaGrammar | undefined): AsyncGenerator<Sampled>;
}

/**
 * Samples tokens from one sequence in phases: each phase evaluates its input tokens (a prompt, or
 * text forced between phases) and then samples, optionally under a grammar. Without logprobs it
 * uses node-llama-cpp's batched `evaluate`; with them, `controlledEvaluate`, which exposes raw logits
 * (logprob = logit − max logit − ln Σexp(logit − max)).
 */
export class TokenSampler implements Sampler {
  /** Every token sampled so far in this choice, across phases. */
  readonly generated: Token[] = [];
  readonly #model: LlamaModel;
  readonly #sequence: LlamaContextSequence;
  readonly #settings: SamplerSettings;
  readonly #bytes: TokenBytes;
  readonly #penaltyWindow: number;
  #phase = 0;

  constructor(model: LlamaModel, sequence: LlamaContextSequence, settings: SamplerSettings, bytes: TokenBytes, penaltyWindow: number) {
    this.#model = model;
    this.#sequence = sequence;
    this.#settings = settings;
    this.#bytes = bytes;
    this.#penaltyWindow = penaltyWindow;
  }

  #options(seed: number): SequenceEvaluateOptions {
    const s = this.#settings;
    // OpenAI samples with temperature and top_p: min-p is off, and top-k is the configured bound
    // (0, the whole vocabulary, whenever logprobs must report true probabilities).
    const options: SequenceEvaluateOptions = { temperature: s.temperature, seed, topK: s.topK, minP: 0, topP: s.topP, evaluationPriority: s.evaluationPriority };
    if (s.tokenBias !== undefined) options.tokenBias = s.tokenBias;
    if (s.presencePenalty !== 0 || s.frequencyPenalty !== 0) {
      options.repeatPenalty = {
        // OpenAI's penalties count every token sampled so far, so the window is the whole generation.
        punishTokens: () => this.generated,
        maxPunishTokens: this.#penaltyWindow,
        penalty: 1,
        presencePenalty: s.presencePenalty,
        frequencyPenalty: s.frequencyPenalty,
      };
    }
    return options;
  }

  /** Whether sampled tokens carry logprobs. */
  get wantsLogprobs(): boolean {
    return this.#settings.topLogprobs !== undefined;
  }

  /** Evaluates `input` and yields sampled tokens until the caller stops or the model ends. */
  async *phase(input: Token[], grammar: LlamaGrammar | undefined): AsyncGenerator<Sampled> {
    const seed = mixSeed(this.#settings.seed, this.#phase++);
    if (this.#settings.topLogprobs === undefined) {
      const options = this.#options(seed);
      if (grammar !== undefined) options.grammarEvaluationState = new LlamaGrammarEvaluationState({ model: this.#model, grammar });
      await this.#settings.pause?.();
      for await (const token of this.#sequence.evaluate(input, options)) {
        this.generated.push(token);
        this.#settings.onToken?.();
        yield { token };
        // Not consuming the next token keeps this sequence out of the engine's next batches.
        const wait = this.#settings.pause?.();
        if (wait !== undefined) await wait;
      }
      return;
    }
    yield* this.#phaseWithLogprobs(input, seed);
  }

  async *#phaseWithLogprobs(input: Token[], seed: number): AsyncGenerator<Sampled> {
    const k = this.#settings.topLogprobs ?? 0;
    let pending = input;
    for (let step = 0; ; step++) {
      const last = pending.at(-1);
      if (last === undefined) return;
      const next = {
        token: true,
        totalLogitWeight: true,
        logits: { filter: { tokens: [] as Token[], includeTop: Math.max(1, k), includeSelected: true, includeMax: true } },
        options: this.#options(mixSeed(seed, step)),
      };
      const results = await this.#sequence.controlledEvaluate([...pending.slice(0, -1), [last, { generateNext: next }]], {
        evaluationPriority: this.#settings.evaluationPriority,
      });
      const out = results.at(-1)?.next;
      const token = out?.token;
      if (out === undefined || token === undefined || token === null || this.#model.isEogToken(token)) return;
      const logprob = logprobFromLogits(out.logits ?? new Map<Token, number>(), out.totalLogitWeight, token, k, this.#bytes);
      this.generated.push(token);
      this.#settings.onToken?.();
      yield { token, logprob };
      pending = [token];
      const wait = this.#settings.pause?.();
      if (wait !== undefined) await wait;
    }
  }
}

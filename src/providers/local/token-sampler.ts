import {
  LlamaGrammarEvaluationState,
  type ControlledEvaluateInputItem,
  type EvaluationPriority,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type SequenceEvaluateOptions,
  type Token,
  type TokenBias,
} from "node-llama-cpp";
import type { TokenLogprob } from "../../core/chat.ts";
import type { Drafter } from "./speculation.ts";
import type { TokenBytes } from "./token-bytes.ts";

/** The per-position options of `controlledEvaluate`. */
type ControlledOptions = Extract<ControlledEvaluateInputItem, unknown[]>[1];
/** What one position samples with. */
type SamplingOptions = NonNullable<NonNullable<ControlledOptions["generateNext"]>["options"]>;

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
  /**
   * Decode at least two positions each step, each sampled with a seed of its own position, so that
   * seeded outputs depend neither on batch neighbours nor on drafts (the model's
   * `deterministicSampling`, implied by speculative decoding); otherwise one position per decode.
   */
  positional: boolean;
  /** Proposes tokens to verify in the same decode (speculative decoding); outputs do not depend on it. */
  drafter?: Drafter;
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
 * text forced between phases) and then samples, optionally under a grammar. Without a grammar it
 * uses `controlledEvaluate`, which samples any number of positions per decode (drafted tokens) and
 * exposes raw logits for logprobs (logprob = logit − max logit − ln Σexp(logit − max)).
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

  /** The sampling options of one position; `drafted` are the tokens sampled before it that the engine does not know yet. */
  #sampling(seed: number, drafted: readonly Token[]): SamplingOptions {
    const s = this.#settings;
    // OpenAI samples with temperature and top_p: min-p is off, and top-k is the configured bound
    // (0, the whole vocabulary, whenever logprobs must report true probabilities).
    const options: SamplingOptions = { temperature: s.temperature, seed, topK: s.topK, minP: 0, topP: s.topP };
    if (s.tokenBias !== undefined) options.tokenBias = s.tokenBias;
    if (s.presencePenalty !== 0 || s.frequencyPenalty !== 0) {
      options.repeatPenalty = {
        // OpenAI's penalties count every token sampled so far, so the window is the whole generation.
        punishTokens: drafted.length === 0 ? () => this.generated : [...this.generated, ...drafted],
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

  /**
   * Evaluates `input` and yields sampled tokens until the caller stops or the model ends. Plain
   * phases and grammar-constrained ones sample through node-llama-cpp's `evaluate` (one random
   * stream per phase, one position per decode); logprobs and `positional` models sample each
   * position with its own seed (see `#positionalPhase`).
   */
  async *phase(input: Token[], grammar: LlamaGrammar | undefined): AsyncGenerator<Sampled> {
    const seed = mixSeed(this.#settings.seed, this.#phase++);
    if (grammar === undefined && (this.#settings.positional || this.#settings.topLogprobs !== undefined)) {
      yield* this.#positionalPhase(input, seed);
      return;
    }
    if (grammar !== undefined && this.#settings.topLogprobs !== undefined) {
      yield* this.#grammarLogprobPhase(input, grammar, seed, this.#settings.topLogprobs);
      return;
    }
    const options: SequenceEvaluateOptions = { ...this.#sampling(seed, []), evaluationPriority: this.#settings.evaluationPriority };
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
  }

  /**
   * Grammar-constrained sampling with logprobs. `evaluate` applies a grammar but exposes no logits,
   * and `controlledEvaluate` exposes logits but takes no grammar, so each position is decoded twice:
   * `evaluate` samples the token under the grammar (advancing the grammar state), then the token
   * before it is erased and decoded again by `controlledEvaluate` for the raw logits there, the
   * sampled token's included. Logprobs are the model's own distribution before the grammar masks it
   * (what a classifier scoring "safe" against "unsafe" needs). Only short constrained outputs ask for
   * both (a guard model's verdict), so the second decode is cheap.
   */
  async *#grammarLogprobPhase(input: Token[], grammar: LlamaGrammar, seed: number, k: number): AsyncGenerator<Sampled> {
    const sequence = this.#sequence;
    const evaluationPriority = this.#settings.evaluationPriority;
    const grammarEvaluationState = new LlamaGrammarEvaluationState({ model: this.#model, grammar });
    let pending = input;
    for (let step = 0; ; step++) {
      const last = pending.at(-1);
      if (last === undefined) return;
      await this.#settings.pause?.();
      const iterator = sequence.evaluate(pending, { ...this.#sampling(mixSeed(seed, step), []), grammarEvaluationState, evaluationPriority });
      let token: Token | undefined;
      try {
        const first = await iterator.next();
        token = first.done === true ? undefined : first.value;
      } finally {
        await iterator.return(undefined);
      }
      // An end-of-generation token (the grammar complete, or the model done) is not yielded.
      if (token === undefined) return;
      const slot = sequence.nextTokenIndex - 1;
      await sequence.eraseContextTokenRanges([{ start: slot, end: slot + 1 }]);
      const filter = { tokens: [token], includeTop: Math.max(1, k), includeMax: true };
      const [scored] = await sequence.controlledEvaluate([[last, { generateNext: { logits: { filter }, totalLogitWeight: true } }]], { evaluationPriority });
      const next = scored?.next;
      this.generated.push(token);
      this.#settings.onToken?.();
      yield { token, logprob: logprobFromLogits(next?.logits ?? new Map<Token, number>(), next?.totalLogitWeight, token, k, this.#bytes) };
      pending = [token];
    }
  }

  /** What the engine returns at one position: the sampled token, and the logits logprobs need. */
  #next(seed: number, step: number, drafted: readonly Token[]): NonNullable<ControlledOptions["generateNext"]> {
    const k = this.#settings.topLogprobs;
    const options = this.#sampling(mixSeed(seed, step), drafted);
    if (k === undefined) return { token: true, options };
    return { token: true, totalLogitWeight: true, logits: { filter: { tokens: [], includeTop: Math.max(1, k), includeSelected: true, includeMax: true } }, options };
  }

  /**
   * Samples position by position, seed `mixSeed(seed, step)` at the step-th token (the path of
   * logprobs, which need each position's logits, and of `positional` models). A positional decode
   * evaluates the last token and at least one drafted token after it, and samples every position:
   * tokens are kept while each sampled token equals the next draft (then the next position's sample
   * is valid too), and the slots of refuted drafts are erased before the next decode. Drafts come
   * from the drafter (speculative decoding) or, without one, are a guess: the token that followed
   * the last token where it last occurred. The engine's logits for a token in a decode of one
   * position differ slightly from those in a decode of several (ggml's single-vector kernels), so
   * decoding at least two positions each time is what makes the output independent of the drafts,
   * of how many are right, and of other sequences sharing the batch; a right guess is a free token.
   * It costs two native sampling calls and often an erase per step: on a tiny model about a third
   * of its decode speed (docs/performance.md), which is why it is the models' choice.
   */
  async *#positionalPhase(input: Token[], seed: number): AsyncGenerator<Sampled> {
    const sequence = this.#sequence;
    const drafter = this.#settings.drafter;
    const held = [...sequence.contextTokens, ...input];
    let drafting = drafter !== undefined;
    if (drafter !== undefined) {
      try {
        await drafter.reset(sequence, held);
      } catch {
        // A drafter that cannot start (an incompatible draft model, say) only costs the speed-up.
        drafting = false;
      }
    }
    const successor = new Map<Token, Token>();
    for (let i = 1; i < held.length; i++) successor.set(held[i - 1] as Token, held[i] as Token);
    // The context slot of the last token yielded: on exit the sequence holds exactly what precedes it.
    let keep: number | undefined;
    let pending = input;
    let step = 0;
    try {
      for (;;) {
        const last = pending.at(-1);
        if (last === undefined) return;
        const base = sequence.nextTokenIndex;
        const room = sequence.contextSize - base - pending.length - 1;
        let drafts = drafting && drafter !== undefined ? await drafter.draft(room) : [];
        const predicted = drafts.length;
        if (drafts.length === 0 && room > 0 && this.#settings.positional) drafts = [successor.get(last) ?? last];
        const items: ControlledEvaluateInputItem[] = pending.slice(0, -1);
        items.push([last, { generateNext: this.#next(seed, step, []) }]);
        for (let i = 0; i < drafts.length; i++) items.push([drafts[i] as Token, { generateNext: this.#next(seed, step + i + 1, drafts.slice(0, i + 1)) }]);
        const results = await sequence.controlledEvaluate(items, { evaluationPriority: this.#settings.evaluationPriority });
        const first = pending.length - 1;
        const sampled: Token[] = [];
        for (let j = 0; j <= drafts.length; j++) {
          const out = results[first + j]?.next;
          const token = out?.token;
          keep = base + pending.length + j;
          if (out === undefined || token === undefined || token === null || this.#model.isEogToken(token)) return;
          sampled.push(token);
          successor.set(j === 0 ? last : (drafts[j - 1] as Token), token);
          this.generated.push(token);
          this.#settings.onToken?.();
          yield this.#settings.topLogprobs !== undefined
            ? { token, logprob: logprobFromLogits(out.logits ?? new Map<Token, number>(), out.totalLogitWeight, token, this.#settings.topLogprobs, this.#bytes) }
            : { token };
          step++;
          if (j === drafts.length || token !== drafts[j]) break;
        }
        const accepted = sampled.length - 1;
        if (predicted > 0) drafter?.record(predicted, accepted);
        // Refuted drafts hold the slots the next tokens need.
        const valid = base + pending.length + accepted;
        if (sequence.nextTokenIndex > valid) await sequence.eraseContextTokenRanges([{ start: valid, end: sequence.nextTokenIndex }]);
        if (drafting) drafter?.push(sampled);
        pending = [sampled.at(-1) as Token];
        const wait = this.#settings.pause?.();
        if (wait !== undefined) await wait;
      }
    } finally {
      drafter?.stop();
      if (keep !== undefined && sequence.nextTokenIndex > keep) await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
    }
  }
}

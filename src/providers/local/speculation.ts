import { InputLookupTokenPredictor, TokenPredictor, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";

/** How a model drafts tokens for speculative decoding. */
export type SpeculationSpec =
  | { method: "lookup"; maxTokens: number; minPattern: number }
  | { method: "draft"; draftModel: string; maxTokens: number; minConfidence: number };

/** Drafted and accepted tokens, for health output and benchmarks. */
export interface SpeculationStats {
  drafted: number;
  accepted: number;
}

/**
 * One sequence's drafter: node-llama-cpp's token predictors (prompt lookup, or a smaller draft
 * model on its own sequence) proposing the next tokens, which the sampler then checks in one batch.
 * Drafts only decide how many tokens one decode evaluates, never which tokens are sampled: the
 * sampler draws every position from the target model's logits with that position's own seed.
 */
export class Drafter {
  readonly #predictor: TokenPredictor;
  readonly #maxTokens: number;
  readonly #stats: SpeculationStats;
  /**
   * Tokens offered per decode now: doubled after a decode that kept every draft, cut to one more
   * than were kept otherwise. Each verified position costs a sample (a native call), so where
   * little is copied the drafter offers about one token, which costs what plain decoding's guess does.
   */
  #budget: number;

  constructor(predictor: TokenPredictor, maxTokens: number, stats: SpeculationStats) {
    this.#predictor = predictor;
    this.#maxTokens = maxTokens;
    this.#budget = maxTokens;
    this.#stats = stats;
  }

  /** Starts drafting after `stateTokens` (everything the sequence will hold before its first sample). */
  async reset(sequence: LlamaContextSequence, stateTokens: readonly Token[]): Promise<void> {
    // Prompt lookup searches everything the sequence holds (the prompt and earlier phases).
    this.#predictor.updateInputTokens([...stateTokens]);
    this.#budget = this.#maxTokens;
    // Drafts are greedy on the draft model; the target's own sampling decides what is kept.
    await this.#predictor.reset({ targetSequence: sequence, stateTokens: [...stateTokens], evaluateOptions: { temperature: 0 } });
  }

  /** Tokens proposed to follow what was pushed so far; at most `room`. */
  async draft(room: number): Promise<Token[]> {
    if (room <= 0) return [];
    const tokens = await this.#predictor.predictTokens();
    return tokens.slice(0, Math.min(room, this.#budget));
  }

  /** Tokens the sequence now holds after the last ones drafted against. */
  push(tokens: Token[]): void {
    this.#predictor.pushTokens(tokens);
  }

  /** Counts one verification: `drafted` tokens offered, `accepted` of them kept. */
  record(drafted: number, accepted: number): void {
    this.#budget = accepted === drafted ? Math.min(this.#maxTokens, this.#budget * 2) : Math.max(1, accepted + 1);
    this.#stats.drafted += drafted;
    this.#stats.accepted += accepted;
  }

  stop(): void {
    void this.#predictor.stop();
  }

  dispose(): void {
    void this.#predictor.dispose();
  }
}

/**
 * Drafts with a smaller model on its own sequence, in step with the target: the draft sequence
 * holds what the target holds, and `predictTokens` greedily generates up to `maxTokens` tokens on
 * it, stopping early below `minConfidence` (the draft model's probability of its own pick). It is a
 * node-llama-cpp `TokenPredictor`, but synchronous: node-llama-cpp's `DraftSequenceTokenPredictor`
 * drafts in the background and, with several sequences of one draft context drafting at once,
 * its `predictTokens` never resolved here (an n=3 request hung); on a machine with few cores the
 * background drafting also competes with the target's own decode.
 */
class DraftModelPredictor extends TokenPredictor {
  readonly #sequence: LlamaContextSequence;
  readonly #maxTokens: number;
  readonly #minConfidence: number;
  /** Tokens the target holds or will evaluate next that the draft sequence has not evaluated yet. */
  #pending: Token[] = [];
  /** The last drafts; the first `#evaluated` of them are on the draft sequence. */
  #drafted: Token[] = [];
  #evaluated = 0;

  constructor(sequence: LlamaContextSequence, maxTokens: number, minConfidence: number) {
    super();
    this.#sequence = sequence;
    this.#maxTokens = maxTokens;
    this.#minConfidence = minConfidence;
  }

  async reset({ stateTokens }: { stateTokens: Token[] }): Promise<void> {
    // Keep what the draft sequence shares with the target (a conversation's earlier turns).
    const shared = Math.min(this.#sequence.compareContextTokens(stateTokens).firstDifferentIndex, stateTokens.length - 1);
    if (this.#sequence.nextTokenIndex > shared) await this.#sequence.eraseContextTokenRanges([{ start: shared, end: this.#sequence.nextTokenIndex }]);
    this.#pending = stateTokens.slice(shared);
    this.#drafted = [];
    this.#evaluated = 0;
  }

  pushTokens(tokens: Token[]): void {
    // Drafts the target kept stay on the draft sequence; from the first it did not keep, they go.
    let kept = 0;
    while (kept < tokens.length && kept < this.#evaluated && tokens[kept] === this.#drafted[kept]) kept++;
    this.#erase = this.#evaluated - kept;
    this.#pending.push(...tokens.slice(kept));
    this.#drafted = [];
    this.#evaluated = 0;
  }

  /** Refuted drafts at the end of the draft sequence, erased before the next draft. */
  #erase = 0;

  async predictTokens(): Promise<Token[]> {
    const sequence = this.#sequence;
    if (this.#erase > 0) await sequence.eraseContextTokenRanges([{ start: sequence.nextTokenIndex - this.#erase, end: sequence.nextTokenIndex }]);
    this.#erase = 0;
    const drafted: Token[] = [];
    let evaluated = 0;
    let input = this.#pending;
    while (drafted.length < this.#maxTokens && input.length > 0 && sequence.nextTokenIndex + input.length < sequence.contextSize) {
      const last = input.at(-1) as Token;
      const results = await sequence.controlledEvaluate([...input.slice(0, -1), [last, { generateNext: { token: true, confidence: true, options: { temperature: 0 } } }]]);
      // `input` is on the draft sequence now: the pending tokens first, then each draft.
      if (drafted.length > 0) evaluated++;
      this.#pending = [];
      input = [];
      const next = results.at(-1)?.next;
      if (next?.token === undefined || next.token === null || sequence.model.isEogToken(next.token)) break;
      drafted.push(next.token);
      if ((next.confidence ?? 0) < this.#minConfidence) break;
      input = [next.token];
    }
    this.#drafted = drafted;
    this.#evaluated = evaluated;
    return drafted;
  }

  override dispose(): void {
    this.#pending = [];
    this.#drafted = [];
  }
}

/** A model's drafters, one per sequence, and the draft model's context when there is one. */
export class Speculation {
  readonly stats: SpeculationStats = { drafted: 0, accepted: 0 };
  readonly #drafters = new Map<LlamaContextSequence, Drafter>();
  readonly #draftModel: LlamaModel | undefined;
  readonly #draftContext: LlamaContext | undefined;

  private constructor(draftModel: LlamaModel | undefined, draftContext: LlamaContext | undefined) {
    this.#draftModel = draftModel;
    this.#draftContext = draftContext;
  }

  /**
   * Creates a drafter for each sequence. A draft model is loaded once, with one sequence per target
   * sequence; it must share the target's vocabulary (node-llama-cpp checks when drafting starts).
   */
  static async create(spec: SpeculationSpec, target: LlamaModel, sequences: readonly LlamaContextSequence[], threads: number): Promise<Speculation> {
    if (spec.method === "lookup") {
      const speculation = new Speculation(undefined, undefined);
      for (const sequence of sequences) {
        const predictor = new InputLookupTokenPredictor({ patternLength: { min: spec.minPattern }, predictionLength: { min: 1, max: spec.maxTokens } });
        speculation.#drafters.set(sequence, new Drafter(predictor, spec.maxTokens, speculation.stats));
      }
      return speculation;
    }
    const draftModel = await target.llama.loadModel({ modelPath: spec.draftModel, defaultContextFlashAttention: false });
    try {
      const sample = "The quick brown fox jumps over 13 lazy dogs. 你好，世界！";
      if (draftModel.vocabularyType !== target.vocabularyType || draftModel.tokenize(sample).join() !== target.tokenize(sample).join()) {
        throw new Error(`the draft model ${spec.draftModel} does not share the target model's vocabulary`);
      }
      const context = await draftModel.createContext({
        sequences: sequences.length,
        contextSize: sequences[0]?.contextSize ?? 2048,
        threads,
        batchSize: 128,
        flashAttention: false,
      });
      const speculation = new Speculation(draftModel, context);
      for (const sequence of sequences) {
        const predictor = new DraftModelPredictor(context.getSequence(), spec.maxTokens, spec.minConfidence);
        speculation.#drafters.set(sequence, new Drafter(predictor, spec.maxTokens, speculation.stats));
      }
      return speculation;
    } catch (error) {
      await draftModel.dispose();
      throw error;
    }
  }

  drafterFor(sequence: LlamaContextSequence): Drafter | undefined {
    return this.#drafters.get(sequence);
  }

  async dispose(): Promise<void> {
    for (const drafter of this.#drafters.values()) drafter.dispose();
    this.#drafters.clear();
    await this.#draftContext?.dispose();
    await this.#draftModel?.dispose();
  }
}

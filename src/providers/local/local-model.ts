import { randomInt } from "node:crypto";
import { statSync } from "node:fs";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, SequenceEvaluateOptions, Token } from "node-llama-cpp";
import type { ChatRequest, ChatStreamPart, FinishReason } from "../../core/chat.ts";
import { contextLengthExceeded, invalidRequest, overloaded } from "../../core/errors.ts";
import { mergeAsync } from "../../core/merge-async.ts";
import type { ChatModel, ModelDescriptor } from "../provider.ts";
import { renderChatPrompt, resolveChatFormat, type ChatFormat } from "./chat-prompt.ts";
import { SequencePool, type SequenceLease } from "./sequence-pool.ts";
import { StopBuffer } from "./stop-buffer.ts";
import { TokenTextDecoder } from "./token-text-decoder.ts";

/** Everything needed to load one GGUF model into the engine. */
export interface LocalModelSpec {
  id: string;
  path: string;
  aliases: readonly string[];
  contextSize: number;
  sequences: number;
  threads: number;
  batchSize: number;
  queueSize: number;
  chatTemplate: string | undefined;
}

interface ChoiceResult {
  completionTokens: number;
  cachedTokens: number;
}

/** One GGUF model with its context, its sequences and the queue in front of them. */
export class LocalModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  /** Tokens per sequence, as the engine allocated them. */
  readonly contextSize: number;
  readonly format: ChatFormat;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #pool: SequencePool<LlamaContextSequence>;

  private constructor(descriptor: ModelDescriptor, model: LlamaModel, context: LlamaContext, format: ChatFormat, queueSize: number) {
    this.descriptor = descriptor;
    this.#model = model;
    this.#context = context;
    this.format = format;
    this.contextSize = context.contextSize;
    const sequences = Array.from({ length: context.totalSequences }, () => context.getSequence());
    this.#pool = new SequencePool(sequences, queueSize);
  }

  /** Loads the model file and allocates its context. */
  static async load(llama: Llama, spec: LocalModelSpec): Promise<LocalModel> {
    const model = await llama.loadModel({ modelPath: spec.path });
    try {
      const contextSize = Math.min(spec.contextSize, model.trainContextSize);
      const context = await model.createContext({
        sequences: spec.sequences,
        contextSize,
        threads: spec.threads,
        batchSize: Math.min(spec.batchSize, contextSize),
        // On CPU flash attention is several times slower at long context and changes sampled outputs.
        flashAttention: false,
      });
      const format = resolveChatFormat(model, spec.chatTemplate);
      const descriptor: ModelDescriptor = {
        id: spec.id,
        aliases: spec.aliases,
        created: Math.floor(statSync(spec.path).mtimeMs / 1000),
        ownedBy: "modelport",
      };
      return new LocalModel(descriptor, model, context, format, spec.queueSize);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  stats(): Record<string, number> {
    const s = this.#pool.stats();
    return { sequences: s.total, busy: s.busy, queued: s.queued, queue_size: s.queueSize, context_size: this.contextSize };
  }

  async *streamChat(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamPart> {
    const prompt = renderChatPrompt(this.format, request.messages);
    const tokens = prompt.text.tokenize(this.#model.tokenizer);
    if (tokens.length >= this.contextSize) throw contextLengthExceeded(this.contextSize, tokens.length);
    if (request.maxTokens !== undefined && tokens.length + request.maxTokens > this.contextSize) {
      throw contextLengthExceeded(this.contextSize, tokens.length, request.maxTokens);
    }
    if (request.n > this.#pool.capacity) {
      throw invalidRequest(`'n' is ${request.n}, but this model can run at most ${this.#pool.capacity} generations at once.`, "n");
    }
    if (!this.#pool.canAccept(request.n)) {
      throw overloaded("The server is busy: every sequence is in use and the queue is full. Please retry shortly.", 1);
    }
    const abort = new AbortController();
    const onAbort = (): void => abort.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const score = (seq: LlamaContextSequence): number => seq.compareContextTokens(tokens).firstDifferentIndex;
    // All choices enter the pool now, synchronously, so the admission check above stays true.
    const leases = Array.from({ length: request.n }, () => this.#pool.acquire(abort.signal, score));
    for (const lease of leases) lease.catch(() => undefined);
    const stops = [...request.stop, ...prompt.stopStrings];
    try {
      const choices = leases.map((lease, index) =>
        this.#generateChoice(index, tokens, request, stops, lease, abort.signal),
      );
      // One choice (the common case) skips the merge and its per-token promise race.
      const results = choices.length === 1 ? [yield* choices[0] as AsyncGenerator<ChatStreamPart, ChoiceResult>] : yield* mergeAsync(choices);
      yield {
        type: "usage",
        usage: {
          promptTokens: tokens.length,
          completionTokens: results.reduce((sum, r) => sum + r.completionTokens, 0),
          cachedTokens: results[0]?.cachedTokens ?? 0,
          reasoningTokens: 0,
        },
      };
    } finally {
      signal.removeEventListener("abort", onAbort);
      abort.abort();
      for (const lease of leases) lease.then((l) => l.release(), () => undefined);
    }
  }

  async *#generateChoice(
    index: number,
    tokens: Token[],
    request: ChatRequest,
    stops: readonly string[],
    leasePromise: Promise<SequenceLease<LlamaContextSequence>>,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamPart, ChoiceResult> {
    const lease = await leasePromise;
    const sequence = lease.sequence;
    let healthy = false;
    try {
      // Reuse the longest prefix this sequence already holds; at least one token is evaluated for logits.
      const reuse = Math.min(sequence.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
      if (sequence.nextTokenIndex > reuse) {
        await sequence.eraseContextTokenRanges([{ start: reuse, end: sequence.nextTokenIndex }]);
      }
      const limit = Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, this.contextSize - tokens.length);
      const generated: Token[] = [];
      const decoder = new TokenTextDecoder(this.#model);
      const stopBuffer = new StopBuffer(stops);
      let finishReason: FinishReason = "stop";
      let stoppedBySequence = false;
      const iterator = sequence.evaluate(tokens.slice(reuse), this.#evaluateOptions(request, index, generated, limit));
      for await (const token of iterator) {
        generated.push(token);
        const { emit, stopped } = stopBuffer.push(decoder.push(token));
        if (emit !== "") yield { type: "text-delta", choice: index, text: emit };
        if (stopped) {
          stoppedBySequence = true;
          break;
        }
        if (generated.length >= limit) {
          finishReason = "length";
          break;
        }
        if (signal.aborted) break;
      }
      if (!stoppedBySequence) {
        const { emit, stopped } = stopBuffer.push(decoder.flush());
        const rest = stopped ? emit : emit + stopBuffer.flush();
        if (stopped) finishReason = "stop";
        if (rest !== "") yield { type: "text-delta", choice: index, text: rest };
      }
      yield { type: "finish", choice: index, finishReason };
      healthy = true;
      return { completionTokens: generated.length, cachedTokens: reuse };
    } finally {
      if (!healthy && !signal.aborted) {
        // An engine failure may leave the sequence's state out of step with its token list.
        await sequence.clearHistory().catch(() => undefined);
      }
      lease.release();
    }
  }

  #evaluateOptions(request: ChatRequest, choice: number, generated: Token[], limit: number): SequenceEvaluateOptions {
    const { sampling } = request;
    const seed = sampling.seed === undefined ? randomInt(0, 2 ** 32) : (sampling.seed + choice) % 2 ** 32;
    const options: SequenceEvaluateOptions = { temperature: sampling.temperature, seed };
    if (sampling.topP < 1) options.topP = sampling.topP;
    if (sampling.presencePenalty !== 0 || sampling.frequencyPenalty !== 0) {
      options.repeatPenalty = {
        // OpenAI's penalties count every token sampled so far, so the window is the whole generation.
        punishTokens: () => generated,
        maxPunishTokens: Math.max(64, Math.min(limit, this.contextSize)),
        penalty: 1,
        presencePenalty: sampling.presencePenalty,
        frequencyPenalty: sampling.frequencyPenalty,
      };
    }
    return options;
  }

  async dispose(): Promise<void> {
    await this.#context.dispose();
    await this.#model.dispose();
  }
}

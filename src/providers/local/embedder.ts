import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { invalidRequest, overloaded } from "../../core/errors.ts";
import type { EmbeddingInput, EmbedOptions, EmbedResult } from "../provider.ts";
import { normalise } from "../../core/vectors.ts";

/** OpenAI's limit on the tokens of all inputs of one embeddings request; also bounds one call's work here. */
export const MAX_EMBED_CALL_TOKENS = 300_000;
/** The longest a waiting background job sits behind interactive ones before it gets one input in. */
const BACKGROUND_MAX_WAIT_MS = 1000;

/** How one model's embedding context is sized and queued. */
export interface EmbedderOptions {
  /** Tokens per input, BOS/EOS included, plus the one cell node-llama-cpp keeps free. */
  contextSize: number;
  threads: number;
  /** Interactive calls that may wait for the engine; past it they get a 503. */
  queueSize: number;
  /** Token ids below this are the model's own. */
  vocabularySize: number;
}

/** One embed call waiting for, or being served by, the engine. */
interface Job {
  inputs: Token[][];
  vectors: Float32Array[];
  dimensions: number;
  /** When it last had an input evaluated (or was queued), for the background starvation bound. */
  since: number;
  /** Leaves its queue and resolves (no error) or rejects; later calls do nothing. */
  settle(error: unknown): void;
}

/**
 * Embeddings for one local model. The embedding context is created on first use (flash attention
 * off via the model's default, the model's thread count, one batch as large as the context so a
 * whole input is decoded at once, which pooling needs). node-llama-cpp's native `getEmbedding`
 * reads one sequence per decode, so inputs are evaluated one at a time; a queue in front of the
 * context serves interactive calls before background ones (at most BACKGROUND_MAX_WAIT_MS between
 * background inputs, so indexing is never starved), and an aborted call stops between inputs.
 */
export class Embedder {
  readonly #model: LlamaModel;
  readonly #options: EmbedderOptions;
  readonly #interactive: Job[] = [];
  readonly #background: Job[] = [];
  #context: Promise<LlamaEmbeddingContext> | undefined;
  /** Whether the loop feeding the engine runs, and the loop itself (awaited on dispose). */
  #running = false;
  #pumping: Promise<void> = Promise.resolve();
  #disposed = false;

  constructor(model: LlamaModel, options: EmbedderOptions) {
    this.#model = model;
    this.#options = options;
  }

  /** The longest input in tokens, BOS/EOS included: node-llama-cpp keeps one context cell free. */
  get maxInputTokens(): number {
    return this.#options.contextSize - 1;
  }

  /** The model's embedding size, the largest `dimensions` allowed. */
  get dimensions(): number {
    return this.#model.embeddingVectorSize;
  }

  stats(): Record<string, number> {
    return { embed_queued: this.#interactive.length + this.#background.length, embed_context: this.#context === undefined ? 0 : 1 };
  }

  async embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult> {
    const dimensions = options.dimensions ?? this.dimensions;
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > this.dimensions) {
      throw invalidRequest(
        `Invalid 'dimensions': this model's embeddings have ${this.dimensions} dimensions, so 'dimensions' must be between 1 and ${this.dimensions}, but got ${dimensions}.`,
        "dimensions",
        "invalid_value",
      );
    }
    if (inputs.length === 0) return { vectors: [], promptTokens: 0 };
    const context = await this.#getContext();
    // Every input is checked before any is evaluated, so a bad one costs no engine time.
    const prepared: Token[][] = [];
    let total = 0;
    inputs.forEach((input, index) => {
      const tokens = typeof input === "string" ? this.#model.tokenize(input) : this.#checkTokens(input, index);
      if (tokens.length === 0) throw invalidRequest(`Invalid 'input[${index}]': the text produced no tokens.`, "input", "invalid_value");
      // As node-llama-cpp will evaluate it: BOS/EOS added where the model's tokenizer adds them.
      const length = context.calculateInputLength(tokens);
      if (length > this.maxInputTokens) {
        throw invalidRequest(
          `This model's maximum input length is ${this.maxInputTokens} tokens, however input[${index}] resulted in ${length} tokens. Please reduce the length of the input.`,
          "input",
          "context_length_exceeded",
        );
      }
      total += length;
      prepared.push(tokens);
    });
    if (total > MAX_EMBED_CALL_TOKENS) {
      throw invalidRequest(`Requested ${total} tokens, max ${MAX_EMBED_CALL_TOKENS} tokens per request.`, "input", "max_tokens_per_request");
    }
    const background = options.priority === "background";
    if (!background && this.#interactive.length >= this.#options.queueSize && this.#running) {
      throw overloaded("The server is busy: the embedding queue is full. Please retry shortly.", 1);
    }
    if (signal.aborted) throw signal.reason;
    if (this.#disposed) throw new Error("The model is disposed.");
    const vectors = await new Promise<Float32Array[]>((resolve, reject) => {
      const queue = background ? this.#background : this.#interactive;
      const onAbort = (): void => job.settle(signal.reason);
      const job: Job = {
        inputs: prepared,
        vectors: [],
        dimensions,
        since: performance.now(),
        settle: (error) => {
          const index = queue.indexOf(job);
          if (index < 0) return;
          queue.splice(index, 1);
          signal.removeEventListener("abort", onAbort);
          if (error === undefined) resolve(job.vectors);
          else reject(error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      queue.push(job);
      if (!this.#running) this.#pumping = this.#pump(context);
    });
    return { vectors, promptTokens: total };
  }

  /** Token ids as engine tokens; ids outside the vocabulary are a 400. */
  #checkTokens(input: readonly number[], index: number): Token[] {
    const size = this.#options.vocabularySize;
    for (const id of input) {
      if (!Number.isInteger(id) || id < 0 || id >= size) {
        throw invalidRequest(`Invalid 'input[${index}]': token ${id} is outside this model's vocabulary of ${size} tokens.`, "input", "invalid_value");
      }
    }
    return input.slice() as Token[];
  }

  #getContext(): Promise<LlamaEmbeddingContext> {
    if (this.#disposed) return Promise.reject(new Error("The model is disposed."));
    if (this.#context === undefined) {
      // Flash attention follows the model's default, which LocalModel.load sets to false.
      const created = this.#model.createEmbeddingContext({
        contextSize: this.#options.contextSize,
        batchSize: this.#options.contextSize,
        threads: this.#options.threads,
      });
      created.catch(() => {
        if (this.#context === created) this.#context = undefined;
      });
      this.#context = created;
    }
    return this.#context;
  }

  /** The job whose input goes next: interactive first, unless a background job has waited too long. */
  #next(): Job | undefined {
    const waiting = this.#background[0];
    if (waiting !== undefined && (this.#interactive.length === 0 || performance.now() - waiting.since > BACKGROUND_MAX_WAIT_MS)) return waiting;
    return this.#interactive[0];
  }

  /** Evaluates queued inputs one at a time, checking for aborts between them, until the queues are empty. */
  async #pump(context: LlamaEmbeddingContext): Promise<void> {
    this.#running = true;
    try {
      for (let job = this.#next(); job !== undefined && !this.#disposed; job = this.#next()) {
        try {
          const embedding = await context.getEmbeddingFor(job.inputs[job.vectors.length] as Token[]);
          job.vectors.push(normalise(embedding.vector, job.dimensions));
          job.since = performance.now();
          if (job.vectors.length === job.inputs.length) job.settle(undefined);
        } catch (error) {
          job.settle(error);
        }
      }
    } finally {
      // Cleared in the same tick as the last empty check, so a job queued after it starts a new loop.
      this.#running = false;
    }
  }

  /** Fails what is queued and frees the embedding context; the model is disposed after this. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const job of [...this.#interactive, ...this.#background]) job.settle(new Error("The model is disposed."));
    await this.#pumping;
    const context = this.#context;
    this.#context = undefined;
    if (context !== undefined) await context.then((c) => c.dispose(), () => undefined);
  }
}

import type { Transcript } from "../../core/audio.ts";
import { createHash, randomInt } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { readGgufFileInfo, TokenBias, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type Token } from "node-llama-cpp";
import type { ChatRequest, ChatStreamPart, JsonSchema, ReasoningEffort, RequestPriority, SamplingOptions, Usage } from "../../core/chat.ts";
import type { TextCompletionPart, TextCompletionRequest } from "../../core/completion.ts";
import { contextLengthExceeded, invalidRequest, overloaded, unsupportedParameter } from "../../core/errors.ts";
import { mergeAsync } from "../../core/merge-async.ts";
import type { Pricing } from "../../core/pricing.ts";
import { unsupportedAudio, unsupportedEndpoint, type ChatModel, type SpeechAudio, type EmbeddingInput, type EmbedOptions, type EmbedResult, type ForwardedResponse, type ForwardEndpoint, type ModelCapabilities, type ModelDescriptor } from "../provider.ts";
import { renderChatPrompt, resolveChatFormat, thoughtMarkers, type ChatFormat, type ThoughtMarkers } from "./chat-prompt.ts";
import { generateChoice, type OutputMode, type ReasoningPlan } from "./choice-generator.ts";
import { Embedder } from "./embedder.ts";
import { compileJsonSchemaGrammar, compileToolCallGrammar, SchemaGrammarError } from "./grammar/json-schema-grammar.ts";
import { PrefixStateStore, type PrefixStoreOptions } from "./prefix-state-store.ts";
import { SequencePool, type SequenceLease } from "./sequence-pool.ts";
import { Speculation, type SpeculationSpec } from "./speculation.ts";
import { TokenBytes } from "./token-bytes.ts";
import { checkPromptLength, generateCompletionChoice, preparePrompt } from "./text-completion.ts";
import { TokenSampler } from "./token-sampler.ts";
import { withToolsRendered } from "./tool-prompt.ts";

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
  /** Shortest shared prefix worth reusing; shorter matches are evaluated afresh and count as uncached. */
  minPrefixReuse: number;
  /** Tokens sampled from; 0 is the whole vocabulary. Requests with logprobs always use the whole vocabulary. */
  samplingTopK: number;
  pricing: Pricing | undefined;
  chatTemplate: string | undefined;
  /** Hot-prefix state files; undefined when the prefix cache is off. */
  prefixStore: Omit<PrefixStoreOptions, "dir"> & { root: string } | undefined;
  /** Speculative decoding (prompt lookup or a draft model); undefined decodes one token per step. */
  speculative?: SpeculationSpec | undefined;
  /** Seeded outputs independent of batch neighbours (and of drafts); implied by `speculative`. */
  deterministicSampling?: boolean;
}

/** One choice to generate on a leased sequence: its prompt, its limits, how it samples, and its generator. */
interface ChoiceJob<P> {
  index: number;
  tokens: Token[];
  /** Tokens it may generate. */
  limit: number;
  sampling: SamplingOptions;
  topLogprobs: number | undefined;
  tokenBias: TokenBias | undefined;
  priority: RequestPriority;
  /** The first choice of its prompt: counts the prompt's cached tokens and may store its prefix. */
  leads: boolean;
  /** Evaluate the whole prompt afresh (scoring prompt tokens needs every position's logits). */
  fresh: boolean;
  /** Generates the choice from the prompt tokens not yet in the sequence's state; returns its reasoning tokens. */
  generate(sampler: TokenSampler, sequence: LlamaContextSequence, input: Token[], signal: AbortSignal): AsyncGenerator<P, number>;
}

/** Live token counts of one request's choices, so usage is known however the request ends. */
interface Tally {
  samplers: TokenSampler[];
  cachedTokens: number;
  reasoningTokens: number;
}

/** Thinking budgets per `reasoning_effort`; `medium` is the default, as in OpenAI's API. */
export const REASONING_BUDGETS: Readonly<Record<ReasoningEffort, number>> = {
  none: 0,
  minimal: 256,
  low: 1024,
  medium: 4096,
  high: 16384,
  xhigh: 32768,
};

/** llama.cpp refused a grammar text (its own limits, or a caller's bad GBNF), reported as a 400. */
class GrammarParseError extends Error {}

/** Compiled grammars kept per model, keyed by their schema (or GBNF text). */
const GRAMMAR_CACHE_SIZE = 64;
/** The longest a background choice sits out at a time, so a stream of interactive requests cannot starve it. */
const PAUSE_LIMIT_MS = 1000;
/** llama.cpp's `LLAMA_POOLING_TYPE_MEAN`; the GGUF key `<arch>.pooling_type` holds such a number. */
const POOLING_MEAN = 1;

/**
 * Metadata overrides for loading a GGUF: a model that declares no pooling (or `none`) gets mean
 * pooling, as llama.cpp's `--pooling mean`, so its embeddings are the mean of all tokens' hidden
 * states rather than the last token's. Pooling only acts in embedding contexts: chat output is
 * unchanged (the same seed gives the same text with and without it; embeddings.test.ts checks).
 */
async function poolingOverrides(path: string): Promise<Record<string, { pooling_type: number }> | undefined> {
  const info = await readGgufFileInfo(path, { readTensorInfo: false });
  const architecture = info.metadata.general.architecture;
  const declared = (info.metadata[architecture] as { pooling_type?: number } | undefined)?.pooling_type;
  if (declared !== undefined && declared > 0) return undefined;
  return { [architecture]: { pooling_type: POOLING_MEAN } };
}

/** The local engine relays nothing: every endpoint it serves, it computes. */
const NO_ENDPOINTS: ReadonlySet<ForwardEndpoint> = new Set();

/** One GGUF model with its context, its sequences and the queue in front of them. */
export class LocalModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;
  /** Tokens per sequence, as the engine allocated them. */
  readonly contextSize: number;
  readonly format: ChatFormat;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #pool: SequencePool<LlamaContextSequence>;
  readonly #bytes: TokenBytes;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #thought: ThoughtMarkers | undefined;
  readonly #minPrefixReuse: number;
  readonly #topK: number;
  readonly #prefixStore: PrefixStateStore | undefined;
  readonly #embedder: Embedder;
  readonly #sequences: readonly LlamaContextSequence[];
  readonly #positional: boolean;
  #speculation: Speculation | undefined;
  /** Interactive choices still waiting for their first token, and background choices paused for them. */
  #interactiveWaiting = 0;
  readonly #pausedBackground = new Set<() => void>();

  private constructor(llama: Llama, descriptor: ModelDescriptor, model: LlamaModel, context: LlamaContext, format: ChatFormat, spec: LocalModelSpec) {
    this.descriptor = descriptor;
    this.#llama = llama;
    this.#model = model;
    this.#bytes = new TokenBytes(model);
    this.#thought = thoughtMarkers(format);
    this.#context = context;
    this.format = format;
    this.contextSize = context.contextSize;
    // Text only: node-llama-cpp has no multimodal support (image parts are refused with a 400).
    this.capabilities = { contextSize: context.contextSize, embeddings: "engine", completions: "engine", forwards: NO_ENDPOINTS, vision: false, speech: false, transcription: false };
    const sequences = Array.from({ length: context.totalSequences }, () => context.getSequence());
    this.#sequences = sequences;
    this.#positional = spec.speculative !== undefined || spec.deterministicSampling === true;
    this.#pool = new SequencePool(sequences, spec.queueSize);
    this.#minPrefixReuse = spec.minPrefixReuse;
    this.#topK = spec.samplingTopK;
    const vocabulary = this.#bytes.vocabularySize;
    this.#embedder = new Embedder(model, {
      // As long as a chat prompt may be; evaluated in one batch, so the context is created on first use.
      contextSize: context.contextSize,
      threads: spec.threads,
      queueSize: spec.queueSize,
      vocabularySize: vocabulary > 0 ? vocabulary : ((model.fileInfo.metadata[model.fileInfo.metadata.general.architecture] as { vocab_size?: number } | undefined)?.vocab_size ?? 0),
    });
    if (spec.prefixStore !== undefined) {
      // State files only fit the model and context size that wrote them: key the directory by both.
      const stat = statSync(spec.path);
      const key = createHash("sha256").update(`${spec.path}\0${stat.size}\0${stat.mtimeMs}\0${context.contextSize}`).digest("hex").slice(0, 16);
      const { root, ...options } = spec.prefixStore;
      this.#prefixStore = new PrefixStateStore({ ...options, dir: join(root, `${spec.id.replace(/[^\w.-]/g, "_")}-${key}`) });
    }
  }

  /** Loads the model file and allocates its context. */
  static async load(llama: Llama, spec: LocalModelSpec): Promise<LocalModel> {
    const overrides = await poolingOverrides(spec.path);
    const model = await llama.loadModel({
      modelPath: spec.path,
      // Embedding contexts take flash attention from this default (chat contexts set it themselves).
      defaultContextFlashAttention: false,
      ...(overrides !== undefined ? { metadataOverrides: overrides as NonNullable<Parameters<Llama["loadModel"]>[0]["metadataOverrides"]> } : {}),
    });
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
        pricing: spec.pricing,
      };
      const local = new LocalModel(llama, descriptor, model, context, format, spec);
      if (spec.speculative !== undefined) {
        try {
          local.#speculation = await Speculation.create(spec.speculative, model, local.#sequences, spec.threads);
        } catch (error) {
          await context.dispose();
          throw error;
        }
      }
      return local;
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  stats(): Record<string, number> {
    const s = this.#pool.stats();
    return {
      sequences: s.total,
      busy: s.busy,
      queued: s.queued,
      queue_size: s.queueSize,
      context_size: this.contextSize,
      ...this.#embedder.stats(),
      ...(this.#speculation ? { speculative_drafted: this.#speculation.stats.drafted, speculative_accepted: this.#speculation.stats.accepted } : {}),
      ...(this.#prefixStore ? { stored_prefixes: this.#prefixStore.size, stored_prefix_bytes: this.#prefixStore.bytes } : {}),
    };
  }

  /** Prompt tokens a sequence's state can serve: its shared prefix, if long enough to be worth it. */
  #reusable(sequence: LlamaContextSequence, tokens: Token[]): number {
    const shared = sequence.compareContextTokens(tokens).firstDifferentIndex;
    return shared >= this.#minPrefixReuse ? shared : 0;
  }

  /**
   * A grammar compiled once per distinct key: our own JSON Schema → GBNF compiler writes the text
   * (grammar/json-schema-grammar.ts), or a raw completion gives it, and the engine only parses it.
   * Compiler errors reject the promise.
   */
  #grammarFor(key: string, text: () => string): Promise<LlamaGrammar> {
    let grammar = this.#grammars.get(key);
    if (grammar === undefined) {
      grammar = Promise.resolve().then(() => {
        const source = text();
        return this.#llama.createGrammar({ grammar: source }).catch((error: unknown) => {
          throw new GrammarParseError(error instanceof Error ? error.message : String(error));
        });
      });
      // A schema the compiler refuses is refused the same way next time: keep that answer, so a
      // client resending it costs no second compile. Anything else may be transient.
      grammar.catch((error: unknown) => {
        if (!(error instanceof SchemaGrammarError)) this.#grammars.delete(key);
      });
      if (this.#grammars.size >= GRAMMAR_CACHE_SIZE) this.#grammars.delete(this.#grammars.keys().next().value as string);
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }

  /** A caller's GBNF grammar text, parsed once per distinct text; one llama.cpp refuses is a 400 on `grammar`. */
  async #gbnfGrammar(text: string): Promise<LlamaGrammar> {
    try {
      return await this.#grammarFor(`gbnf:${text}`, () => text);
    } catch (error) {
      if (error instanceof GrammarParseError) throw invalidRequest(`The grammar could not be parsed: ${error.message}`, "grammar", "invalid_grammar");
      throw error;
    }
  }

  /** Checks what this model can honour and builds the output mode; throws 400s naming the parameter. */
  async #outputMode(request: ChatRequest): Promise<OutputMode> {
    for (const message of request.messages) {
      if (message.role !== "user") continue;
      for (const part of message.parts) {
        if (part.type === "image") {
          throw invalidRequest(
            `Model '${this.descriptor.id}' does not accept image input: local models are text-only (node-llama-cpp has no multimodal support). Route this model to an upstream vision model, or send text.`,
            part.param,
            "unsupported_content_type",
          );
        }
      }
    }
    if (request.reasoningEffort !== undefined && this.#thought === undefined) {
      throw unsupportedParameter("reasoning_effort", `is not supported with model '${this.descriptor.id}': it does not reason`);
    }
    const { responseFormat, toolChoice, tools } = request;
    const constrained = responseFormat.type !== "text" || (tools.length > 0 && toolChoice !== "none");
    if (request.topLogprobs !== undefined && constrained) {
      throw invalidRequest(
        "'logprobs' cannot be combined with 'response_format' JSON modes or tool calls on local models: grammar-constrained sampling does not expose logits.",
        "logprobs",
        "unsupported_parameter",
      );
    }
    const compile = async (key: string, text: () => string, param: (path: string) => string): Promise<LlamaGrammar> => {
      try {
        return await this.#grammarFor(key, text);
      } catch (error) {
        if (error instanceof SchemaGrammarError) {
          throw invalidRequest(`The schema in '${param(error.path)}' cannot be enforced: ${error.message}.`, param(error.path), "invalid_schema");
        }
        if (error instanceof GrammarParseError) {
          throw invalidRequest(`The schema in '${param("")}' could not be turned into a grammar: ${error.message}`, param(""), "invalid_schema");
        }
        // A bug of ours, not the client's: a 500 through the one error mapper.
        throw error;
      }
    };
    const forSchema = (schema: JsonSchema, param: string): Promise<LlamaGrammar> =>
      compile(`schema:${JSON.stringify(schema)}`, () => compileJsonSchemaGrammar(schema), (path) => (path === "" ? param : `${param}.${path}`));
    if (responseFormat.type === "json_object") return { type: "json", grammar: await forSchema({ type: "object", additionalProperties: true }, "response_format") };
    if (responseFormat.type === "json_schema") return { type: "json", grammar: await forSchema(responseFormat.schema, "response_format.json_schema.schema") };
    if (tools.length === 0 || toolChoice === "none") return { type: "text" };
    const offered = typeof toolChoice === "object" ? tools.filter((t) => t.name === toolChoice.name) : tools;
    const entries = offered.map((t) => ({ name: t.name, parameters: t.parameters }));
    const toolParam = (path: string): string => {
      // The compiler names the offered tool by its position; the param names it among all tools.
      const match = /^\[(\d+)\]\.?(.*)$/.exec(path);
      if (match === null) return "tools";
      const index = tools.indexOf(offered[Number(match[1])] as (typeof tools)[number]);
      return `tools[${index}].function.parameters${match[2] === "" ? "" : `.${match[2]}`}`;
    };
    const grammar = await compile(`tools:${JSON.stringify(entries)}`, () => compileToolCallGrammar(entries), toolParam);
    return {
      type: "tools",
      grammar,
      forced: toolChoice !== "auto",
      maxCalls: typeof toolChoice === "object" || !request.parallelToolCalls ? 1 : 8,
    };
  }

  #tokenBias(logitBias: ReadonlyMap<number, number>): TokenBias | undefined {
    if (logitBias.size === 0) return undefined;
    const bias = new TokenBias(this.#model.tokenizer);
    for (const [token, value] of logitBias) {
      if (token >= this.#bytes.vocabularySize) {
        throw invalidRequest(`Invalid 'logit_bias': token ${token} is outside this model's vocabulary of ${this.#bytes.vocabularySize} tokens.`, `logit_bias.${token}`, "invalid_value");
      }
      if (this.#model.isEogToken(token as Token)) {
        throw invalidRequest(`Invalid 'logit_bias': token ${token} ends generation, and the engine cannot bias end-of-generation tokens.`, `logit_bias.${token}`, "unsupported_value");
      }
      bias.set(token as Token, value <= -100 ? "never" : { logit: value });
    }
    return bias;
  }

  /** The thinking phase for a reasoning model's format; undefined for other models. */
  #reasoningPlan(request: ChatRequest): ReasoningPlan | undefined {
    if (this.#thought === undefined) return undefined;
    const tokenize = (text: ThoughtMarkers["prefix"]): Token[] => text.tokenize(this.#model.tokenizer, "trimLeadingSpace");
    return {
      budget: REASONING_BUDGETS[request.reasoningEffort ?? "medium"],
      open: tokenize(this.#thought.prefix),
      close: tokenize(this.#thought.suffix),
      closeText: this.#thought.suffix.toString().trim(),
    };
  }

  async countPromptTokens(request: ChatRequest): Promise<number> {
    const mode = await this.#outputMode(request);
    const prompt = renderChatPrompt(this.format, withToolsRendered(request.messages, request.tools, mode.type === "tools"));
    return prompt.text.tokenize(this.#model.tokenizer).length;
  }

  async *streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    const mode = await this.#outputMode(request);
    const reasoning = this.#reasoningPlan(request);
    const tokenBias = this.#tokenBias(request.sampling.logitBias);
    const offerTools = mode.type === "tools";
    const prompt = renderChatPrompt(this.format, withToolsRendered(request.messages, request.tools, offerTools));
    const tokens = prompt.text.tokenize(this.#model.tokenizer);
    if (tokens.length >= this.contextSize) throw contextLengthExceeded(this.contextSize, tokens.length);
    if (request.maxTokens !== undefined && tokens.length + request.maxTokens > this.contextSize) {
      throw contextLengthExceeded(this.contextSize, tokens.length, request.maxTokens);
    }
    const stops = [...request.stop, ...prompt.stopStrings];
    const limit = Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, this.contextSize - tokens.length);
    const model = this.#model;
    const jobs = Array.from({ length: request.n }, (_, index): ChoiceJob<ChatStreamPart> => ({
      index,
      tokens,
      limit,
      sampling: request.sampling,
      topLogprobs: request.topLogprobs,
      tokenBias,
      priority: request.priority,
      leads: index === 0,
      fresh: false,
      generate: async function* (this: void, sampler, _sequence, input, choiceSignal) {
        const { reasoningTokens } = yield* generateChoice(model, sampler, { index, input, limit, stops, mode, reasoning }, choiceSignal);
        return reasoningTokens;
      },
    }));
    yield* this.#runJobs(jobs, tokens.length, signal, onUsage);
  }

  /**
   * Raw text completion (`/v1/completions`): each prompt tokenized as is (no chat template), `n`
   * choices per prompt on the same scheduler, sequences and sampler as chat, with the prompt part
   * first (scored for `echo` with logprobs), then plain text.
   */
  async *completeText(request: TextCompletionRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<TextCompletionPart> {
    const tokenBias = this.#tokenBias(request.sampling.logitBias);
    const grammar = request.grammar === undefined ? undefined : await this.#gbnfGrammar(request.grammar);
    const vocabulary = this.#bytes.vocabularySize > 0 ? this.#bytes.vocabularySize : Number.POSITIVE_INFINITY;
    const prompts = request.prompts.map((p, i) => {
      const param = request.prompts.length > 1 ? `prompt[${i}]` : "prompt";
      const prepared = preparePrompt(this.#model, this.descriptor.id, vocabulary, p, request.suffix, param, request.specialTokens === true);
      checkPromptLength(prepared.tokens.length, request.maxTokens, this.contextSize);
      return prepared;
    });
    const model = this.#model;
    const bytes = this.#bytes;
    const scoreTop = request.promptLogprobs ? (request.logprobs ?? 0) : undefined;
    const evaluationPriority = request.priority === "background" ? 1 : 5;
    const jobs = prompts.flatMap((prompt, p) =>
      Array.from({ length: request.n }, (_, i): ChoiceJob<TextCompletionPart> => {
        const index = p * request.n + i;
        const limit = request.maxTokens;
        return {
          index,
          tokens: prompt.tokens,
          limit,
          sampling: request.sampling,
          topLogprobs: request.logprobs,
          tokenBias,
          priority: request.priority,
          leads: i === 0,
          fresh: scoreTop !== undefined,
          generate: (sampler, sequence, input, choiceSignal) =>
            generateCompletionChoice(model, sequence, sampler, bytes, { index, prompt, input, limit, stops: request.stop, promptLogprobs: scoreTop, grammar }, choiceSignal, evaluationPriority),
        };
      }),
    );
    const promptTokens = prompts.reduce((sum, p) => sum + p.tokens.length, 0);
    yield* this.#runJobs(jobs, promptTokens, signal, onUsage);
  }

  /**
   * Runs a request's choices on the pool and yields their parts as they come, then the usage, which
   * `onUsage` also gets however the request ends. Choices run in waves of at most the pool's
   * capacity (a completions request may list many prompts); the first wave must fit the queue now,
   * later ones wait their turn as part of a request already under way.
   */
  async *#runJobs<P>(jobs: readonly ChoiceJob<P>[], promptTokens: number, signal: AbortSignal, onUsage: ((usage: Usage) => void) | undefined): AsyncGenerator<P | { type: "usage"; usage: Usage }> {
    const capacity = this.#pool.capacity;
    if (!this.#pool.canAccept(Math.min(jobs.length, capacity))) {
      throw overloaded("The server is busy: every sequence is in use and the queue is full. Please retry shortly.", 1);
    }
    const tally: Tally = { samplers: [], cachedTokens: 0, reasoningTokens: 0 };
    const usage = (): Usage => ({
      promptTokens,
      completionTokens: tally.samplers.reduce((sum, s) => sum + s.generated.length, 0),
      cachedTokens: tally.cachedTokens,
      reasoningTokens: tally.reasoningTokens,
    });
    try {
      for (let start = 0; start < jobs.length; start += capacity) yield* this.#runWave(jobs.slice(start, start + capacity), signal, tally);
      yield { type: "usage", usage: usage() };
    } finally {
      // Metered however the request ended: finished, failed, or abandoned by its client.
      onUsage?.(usage());
    }
  }

  /** Runs choices together, each on the free sequence that shares the longest prefix with its prompt. */
  async *#runWave<P>(jobs: readonly ChoiceJob<P>[], signal: AbortSignal, tally: Tally): AsyncGenerator<P> {
    const abort = new AbortController();
    const onAbort = (): void => abort.abort(signal.reason);
    if (signal.aborted) abort.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
    // Equal scores (nothing worth reusing) fall to the least recently used sequence, keeping warm ones warm.
    const leases = jobs.map((job) => this.#pool.acquire(abort.signal, (seq) => this.#reusable(seq, job.tokens), job.priority === "background"));
    for (const lease of leases) lease.catch(() => undefined);
    try {
      const choices = jobs.map((job, i) => this.#runChoice(job, leases[i] as Promise<SequenceLease<LlamaContextSequence>>, abort.signal, tally));
      // One choice (the common case) skips the merge and its per-token promise race.
      if (choices.length === 1) yield* choices[0] as AsyncGenerator<P, void>;
      else yield* mergeAsync(choices);
    } finally {
      signal.removeEventListener("abort", onAbort);
      abort.abort();
      for (const lease of leases) lease.then((l) => l.release(), () => undefined);
    }
  }

  async *#runChoice<P>(job: ChoiceJob<P>, leasePromise: Promise<SequenceLease<LlamaContextSequence>>, signal: AbortSignal, tally: Tally): AsyncGenerator<P, void> {
    const lease = await leasePromise;
    const sequence = lease.sequence;
    const { index, tokens } = job;
    let healthy = false;
    // An interactive choice counts as waiting for its first token until it has one.
    let waiting = job.priority !== "background";
    if (waiting) this.#interactiveWaiting++;
    const firstToken = (): void => {
      if (!waiting) return;
      waiting = false;
      this.#interactiveDone();
    };
    try {
      // Reuse the prefix this sequence already holds, or a stored hot prefix when that is longer;
      // at least one token is always evaluated, for its logits. A fresh job evaluates everything.
      let reuse = job.fresh ? 0 : Math.min(this.#reusable(sequence, tokens), tokens.length - 1);
      const stored = job.fresh ? undefined : this.#prefixStore?.lookup(tokens);
      if (stored !== undefined && stored.length > reuse && (await this.#prefixStore?.restore(sequence, stored))) {
        reuse = Math.min(sequence.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
      }
      if (sequence.nextTokenIndex > reuse) {
        await sequence.eraseContextTokenRanges([{ start: reuse, end: sequence.nextTokenIndex }]);
      }
      const { sampling } = job;
      const background = job.priority === "background";
      const sampler = new TokenSampler(
        this.#model,
        sequence,
        {
          temperature: sampling.temperature,
          topP: sampling.topP,
          topK: job.topLogprobs === undefined ? this.#topK : 0,
          seed: sampling.seed === undefined ? randomInt(0, 2 ** 32) : (sampling.seed + index) % 2 ** 32,
          presencePenalty: sampling.presencePenalty,
          frequencyPenalty: sampling.frequencyPenalty,
          tokenBias: job.tokenBias,
          topLogprobs: job.topLogprobs,
          // The engine fills each batch from higher-priority sequences first.
          evaluationPriority: background ? 1 : 5,
          positional: this.#positional,
          drafter: this.#speculation?.drafterFor(sequence),
          ...(background ? { pause: () => this.#yieldToInteractive() } : { onToken: firstToken }),
        },
        this.#bytes,
        Math.max(64, Math.min(job.limit, this.contextSize)),
      );
      tally.samplers[index] = sampler;
      if (job.leads) tally.cachedTokens += reuse;
      tally.reasoningTokens += yield* job.generate(sampler, sequence, tokens.slice(reuse), signal);
      healthy = true;
      if (job.leads && !job.fresh && !signal.aborted && this.#prefixStore?.noteUse(tokens)) {
        await this.#prefixStore.save(sequence, tokens).catch(() => undefined);
      }
    } finally {
      firstToken();
      if (!healthy && !signal.aborted) {
        // An engine failure may leave the sequence's state out of step with its token list.
        await sequence.clearHistory().catch(() => undefined);
      }
      lease.release();
    }
  }

  /**
   * While an interactive choice waits for its first token, background choices sit out of the
   * engine's batches (at most PAUSE_LIMIT_MS at a time, so they are never starved), keeping
   * interactive time to first token close to idle while batches run.
   */
  #yieldToInteractive(): Promise<void> | undefined {
    if (this.#interactiveWaiting === 0) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, PAUSE_LIMIT_MS);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.#pausedBackground.delete(done);
        resolve();
      }
      this.#pausedBackground.add(done);
    });
  }

  #interactiveDone(): void {
    this.#interactiveWaiting--;
    if (this.#interactiveWaiting > 0) return;
    for (const resume of [...this.#pausedBackground]) resume();
  }

  /** The local engine has no endpoint to relay to (`capabilities.forwards` is empty). */
  async forward(endpoint: ForwardEndpoint): Promise<ForwardedResponse> {
    throw unsupportedEndpoint(this.descriptor.id, endpoint);
  }

  /** Not a speech model (`capabilities.speech` is false). */
  async speak(): Promise<SpeechAudio> {
    throw unsupportedAudio(this.descriptor.id, "/audio/speech");
  }

  /** Not a transcription model (`capabilities.transcription` is false). */
  async transcribe(): Promise<Transcript> {
    throw unsupportedAudio(this.descriptor.id, "/audio/transcriptions");
  }

  /** Embeds on this model's embedding context; see Embedder for the queue and the limits. */
  embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult> {
    return this.#embedder.embed(inputs, options, signal);
  }

  async dispose(): Promise<void> {
    await this.#speculation?.dispose();
    await this.#embedder.dispose();
    await this.#context.dispose();
    await this.#model.dispose();
  }
}

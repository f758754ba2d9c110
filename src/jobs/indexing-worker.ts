import { ApiError, missingFileBytes } from "../core/errors.ts";
import type { Logger } from "../logging/logger.ts";
import { chunkText } from "../retrieval/chunker.ts";
import { ExtractionError, extractText } from "../retrieval/extract-text.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { ModelRegistry } from "../services/model-registry.ts";
import { BlobNotFoundError } from "../storage/blob-store.ts";
import type { FileStore } from "../storage/file-store.ts";
import type { ClaimedFile, IndexedFile, VectorStoreFileError, VectorStoreStore } from "../storage/vector-store-store.ts";
import { LeasedWorker } from "./leased-worker.ts";

/** Chunks embedded per call: large enough to keep the engine busy, small enough to yield often. */
const EMBED_GROUP = 16;
/** How many times a chunk too long for the embedding model is halved before indexing gives up on it. */
const MAX_HALVINGS = 12;

/** Errors worth trying again later (the engine or an upstream was busy), rather than failing the file. */
function transient(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 429 || error.status >= 500);
}

/**
 * Indexes vector store files from the database queue: claims waiting files with a renewed lease
 * (through the shared leased-worker loop), extracts their text, chunks it, embeds the chunks at
 * background priority (interactive requests go first), and stores chunks and status in one
 * transaction. A restart picks up unfinished files; a finished file is never indexed twice, and a
 * cancelled or deleted one is dropped.
 */
export class IndexingWorker {
  readonly #store: VectorStoreStore;
  readonly #files: FileStore;
  readonly #registry: ModelRegistry;
  readonly #logger: Logger;
  readonly #loop: LeasedWorker<ClaimedFile>;

  constructor(deps: { store: VectorStoreStore; files: FileStore; registry: ModelRegistry; logger: Logger; concurrency: number; leaseMs?: number }) {
    this.#store = deps.store;
    this.#files = deps.files;
    this.#registry = deps.registry;
    this.#logger = deps.logger;
    const store = deps.store;
    this.#loop = new LeasedWorker<ClaimedFile>(
      {
        what: "vector store files",
        name: "indexing worker",
        claim: (limit, leaseMs) => store.claim(limit, leaseMs),
        renew: (claim, leaseMs) => store.renew(claim, leaseMs),
        release: (job) => store.release(job),
        releaseAll: () => store.releaseAll(),
        key: (job) => `${job.vectorStoreId}:${job.fileId}`,
        run: (job, signal) => this.#run(job, signal),
        failed: async (job, error, aborted) => {
          if (aborted || transient(error)) {
            await store.release(job).catch(() => undefined);
          } else {
            this.#logger.error("vector store file indexing failed", { vector_store: job.vectorStoreId, file: job.fileId, error: error instanceof Error ? error.message : String(error) });
            await store.fail(job, { code: "server_error", message: "The file could not be indexed." }).catch(() => undefined);
          }
        },
        pass: () => this.#pass(),
        restarted: async (requeued) => {
          if (requeued > 0) this.#logger.info("vector store files returned to the indexing queue after a restart", { count: requeued });
        },
      },
      { logger: deps.logger, concurrency: Math.max(1, deps.concurrency), leaseMs: deps.leaseMs },
    );
  }

  /** Starts the loop; `soleProcess` (SQLite) returns files a previous process held to the queue at once. */
  start(soleProcess: boolean): Promise<void> {
    return this.#loop.start(soleProcess);
  }

  /** Asks for a pass now (files were attached). */
  poke(): void {
    this.#loop.poke();
  }

  /**
   * Claims files for the free slots. While files run, a finished one asks for the next pass; with
   * nothing waiting, look again in a while for work other processes queued.
   */
  async #pass(): Promise<number | undefined> {
    const filled = await this.#loop.fill();
    if (filled === "full") return 1_000;
    if (filled === "failed") return 2_000;
    if (filled === 0) return this.#loop.running > 0 ? 1_000 : 2_000;
    return undefined;
  }

  /** Indexes one claimed file and stores the result (or the reason the file cannot be indexed). */
  async #run(job: ClaimedFile, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const indexed = await this.#index(job, signal);
    if ("code" in indexed) {
      await this.#store.fail(job, indexed);
      this.#logger.info("vector store file failed", { vector_store: job.vectorStoreId, file: job.fileId, code: indexed.code });
    } else if (await this.#store.finish(job, indexed)) {
      this.#logger.info("vector store file indexed", { vector_store: job.vectorStoreId, file: job.fileId, chunks: indexed.chunks.length, ms: Math.round(performance.now() - started) });
    }
  }

  /** Extracts, chunks and embeds one file; an error object when the file itself is the problem. */
  async #index(job: ClaimedFile, signal: AbortSignal): Promise<IndexedFile | VectorStoreFileError> {
    const file = await this.#files.get(job.projectId, job.fileId);
    if (file === undefined) return { code: "invalid_file", message: `File '${job.fileId}' no longer exists.` };
    let text: string;
    try {
      text = await extractText(await this.#files.readBytes(file.id), file.filename);
    } catch (error) {
      if (error instanceof ExtractionError) return { code: error.code, message: error.message };
      // Its record is here and its bytes are not: trying again would not bring them back.
      if (error instanceof BlobNotFoundError) return { code: "server_error", message: missingFileBytes(file.id).message };
      throw error;
    }
    const chunks = chunkText(text, { maxTokens: job.maxChunkTokens, overlapTokens: job.overlapTokens });
    if (!this.#registry.has(job.embeddingModel)) return { code: "server_error", message: `The embedding model '${job.embeddingModel}' is not served.` };
    const model = this.#registry.resolve(job.embeddingModel);
    if (model.capabilities.embeddings === "none") return { code: "server_error", message: `The model '${job.embeddingModel}' cannot embed.` };
    const embed = model.embed.bind(model);
    const embeddings: Float32Array[] = [];
    for (let i = 0; i < chunks.length; i += EMBED_GROUP) {
      const texts = chunks.slice(i, i + EMBED_GROUP).map((c) => c.text);
      try {
        embeddings.push(...(await embed(texts, { priority: "background" }, signal)).vectors);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400)) throw error;
        // One of them is longer than the embedding model takes: embed each alone, the long ones from their start.
        for (const t of texts) embeddings.push(await this.#embedPrefix(embed, t, signal));
      }
    }
    return { content: text, chunks: chunks.map((c, i) => ({ text: c.text, tokens: c.tokens, embedding: embeddings[i] as Float32Array })) };
  }

  /** Embeds the longest start of `text` (halving it) that the embedding model accepts; keyword search still sees all of it. */
  async #embedPrefix(embed: NonNullable<ChatModel["embed"]>, text: string, signal: AbortSignal): Promise<Float32Array> {
    let part = text;
    for (let i = 0; i <= MAX_HALVINGS; i++) {
      try {
        return ((await embed([part], { priority: "background" }, signal)).vectors[0] as Float32Array) ?? new Float32Array(0);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400) || part.length < 2) throw error;
        part = part.slice(0, Math.floor(part.length / 2));
      }
    }
    throw new Error("chunk could not be embedded");
  }

  /** Stops claiming and returns running files to the queue, so a restart resumes them. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}

import { ApiError, objectNotFound } from "../core/errors.ts";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import type { CreateVectorStoreBody, FileToAttach } from "../protocol/openai/vector-stores.ts";
import type { FileStore } from "../storage/file-store.ts";
import type { FileBatchRecord, VectorStoreFileRecord, VectorStoreRecord, VectorStoreStore } from "../storage/vector-store-store.ts";
import type { ModelRegistry } from "./model-registry.ts";

/**
 * Vector store use cases: creating stores with their embedding model, attaching a project's files
 * (queued for the indexing worker), file batches. Reads and renders stay in the routes.
 */
export class VectorStoreService {
  readonly #store: VectorStoreStore;
  readonly #files: FileStore;
  readonly #registry: ModelRegistry;
  readonly #embeddingModel: string | undefined;
  readonly #onQueued: () => void;

  constructor(deps: { store: VectorStoreStore; files: FileStore; registry: ModelRegistry; embeddingModel: string | undefined; onQueued: () => void }) {
    this.#store = deps.store;
    this.#files = deps.files;
    this.#registry = deps.registry;
    this.#embeddingModel = deps.embeddingModel;
    this.#onQueued = deps.onQueued;
  }

  /** The model new stores embed with: the configured one, else the first served model that can embed. */
  embeddingModel(): string {
    if (this.#embeddingModel !== undefined) {
      if (!this.#registry.has(this.#embeddingModel)) throw new ApiError(503, `The configured embedding model '${this.#embeddingModel}' is not served.`, { type: "server_error", code: "model_not_available" });
      return this.#registry.resolve(this.#embeddingModel).descriptor.id;
    }
    const model = this.#registry.list().find((m) => m.capabilities.embeddings !== "none");
    if (model === undefined) throw new ApiError(503, "No model on this server can embed, so vector stores cannot be indexed.", { type: "server_error", code: "model_not_available" });
    return model.descriptor.id;
  }

  async create(projectId: string, body: CreateVectorStoreBody): Promise<VectorStoreRecord> {
    const now = unixSeconds();
    const record: VectorStoreRecord = {
      id: prefixedId("vs_", 24),
      projectId,
      createdAt: now,
      name: body.name,
      description: body.description,
      metadata: body.metadata,
      embeddingModel: this.embeddingModel(),
      expiresAfterDays: body.expiresAfterDays,
      lastActiveAt: now,
      version: 0,
    };
    const files = await this.#resolve(record, body.fileIds.map((fileId, i) => ({ fileId, param: `file_ids[${i}]`, chunking: body.chunking, attributes: {} })), null);
    await this.#store.createStore(record);
    await this.#store.addFiles(files);
    if (files.length > 0) this.#onQueued();
    return record;
  }

  /** Attaches files (each must be one of the project's files) and queues them for indexing. */
  async attach(store: VectorStoreRecord, files: readonly FileToAttach[]): Promise<VectorStoreFileRecord[]> {
    const records = await this.#resolve(store, files, null);
    await this.#store.addFiles(records);
    await this.#store.touch(store.id, unixSeconds());
    this.#onQueued();
    return records;
  }

  async createBatch(store: VectorStoreRecord, files: readonly FileToAttach[]): Promise<FileBatchRecord> {
    const batch: FileBatchRecord = { id: prefixedId("vsfb_", 24), vectorStoreId: store.id, projectId: store.projectId, createdAt: unixSeconds(), cancelled: false };
    const records = await this.#resolve(store, files, batch.id);
    await this.#store.createBatch(batch, records);
    await this.#store.touch(store.id, unixSeconds());
    this.#onQueued();
    return batch;
  }

  async #resolve(store: VectorStoreRecord, files: readonly FileToAttach[], batchId: string | null): Promise<VectorStoreFileRecord[]> {
    const out = new Map<string, VectorStoreFileRecord>();
    const now = unixSeconds();
    for (const f of files) {
      const file = await this.#files.get(store.projectId, f.fileId);
      if (file === undefined) throw objectNotFound("File", f.fileId, f.param, "file_not_found");
      out.set(f.fileId, {
        vectorStoreId: store.id,
        fileId: f.fileId,
        projectId: store.projectId,
        createdAt: now,
        batchId,
        filename: file.filename,
        status: "in_progress",
        lastError: null,
        maxChunkTokens: f.chunking.maxTokens,
        overlapTokens: f.chunking.overlapTokens,
        attributes: f.attributes,
        usageBytes: 0,
      });
    }
    return [...out.values()];
  }
}

import { sortableId } from "../core/ids.ts";
import { float32Bytes } from "../core/vectors.ts";
import type { Attributes } from "../retrieval/types.ts";
import { nextSeq, type Page } from "./object-store.ts";
import { num, numOrNull, str, strOrNull, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** A vector store as stored. Timestamps are Unix seconds. */
export interface VectorStoreRecord {
  id: string;
  projectId: string;
  createdAt: number;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  /** The model that embeds its chunks and queries; fixed at creation so vectors stay comparable. */
  embeddingModel: string;
  expiresAfterDays: number | null;
  lastActiveAt: number;
  /** Bumped whenever its searchable content changes, so in-memory indexes know to catch up. */
  version: number;
}

/** A file's indexing status, as OpenAI names it. */
export type VectorStoreFileStatus = "in_progress" | "completed" | "cancelled" | "failed";

/** Why a file failed to index. */
export interface VectorStoreFileError {
  code: "server_error" | "unsupported_file" | "invalid_file";
  message: string;
}

/** A file attached to a vector store. */
export interface VectorStoreFileRecord {
  vectorStoreId: string;
  fileId: string;
  projectId: string;
  createdAt: number;
  batchId: string | null;
  filename: string;
  status: VectorStoreFileStatus;
  lastError: VectorStoreFileError | null;
  maxChunkTokens: number;
  overlapTokens: number;
  attributes: Attributes;
  usageBytes: number;
}

/** A file batch; its status and counts come from its files. */
export interface FileBatchRecord {
  id: string;
  vectorStoreId: string;
  projectId: string;
  createdAt: number;
  cancelled: boolean;
}

/** Files per status, as `file_counts` shows them. */
export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** One stored chunk: its text and its embedding. */
export interface StoredChunk {
  fileId: string;
  index: number;
  text: string;
  tokens: number;
  embedding: Float32Array;
}

/** What indexing one file produced. */
export interface IndexedFile {
  content: string;
  chunks: { text: string; tokens: number; embedding: Float32Array }[];
}

/** A file claimed for indexing, with what the worker needs to index it. */
export interface ClaimedFile {
  vectorStoreId: string;
  fileId: string;
  projectId: string;
  maxChunkTokens: number;
  overlapTokens: number;
  embeddingModel: string;
  claim: string;
}

/** Paging of store and file lists: `after`/`before` a cursor id, in creation order. */
export interface CursorQuery {
  after?: string | undefined;
  before?: string | undefined;
  limit: number;
  order: "asc" | "desc";
}


function toStore(r: Row): VectorStoreRecord {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    name: str(r.name),
    description: strOrNull(r.description),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    embeddingModel: str(r.embedding_model),
    expiresAfterDays: numOrNull(r.expires_after_days),
    lastActiveAt: num(r.last_active_at),
    version: num(r.version),
  };
}

function toFile(r: Row): VectorStoreFileRecord {
  return {
    vectorStoreId: str(r.vector_store_id),
    fileId: str(r.file_id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    batchId: strOrNull(r.batch_id),
    filename: str(r.filename),
    status: str(r.status) as VectorStoreFileStatus,
    lastError: r.last_error === null || r.last_error === undefined ? null : (JSON.parse(str(r.last_error)) as VectorStoreFileError),
    maxChunkTokens: num(r.max_chunk_tokens),
    overlapTokens: num(r.overlap_tokens),
    attributes: JSON.parse(str(r.attributes)) as Attributes,
    usageBytes: num(r.usage_bytes),
  };
}

/** Stored vectors are their little-endian float32 bytes (`float32Bytes`). */
function bytesVector(value: unknown): Float32Array {
  const bytes = value as Uint8Array;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function emptyCounts(): FileCounts {
  return { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
}

function addCount(counts: FileCounts, status: string, n: number): void {
  if (status === "in_progress" || status === "completed" || status === "failed" || status === "cancelled") counts[status] += n;
  counts.total += n;
}

/**
 * Vector stores, their files, file batches and chunks (text + embedding) in SQLite or PostgreSQL.
 * Files waiting to be indexed are the job queue: a worker claims them with a lease (row locks on
 * PostgreSQL), and a file's chunks and its `completed` status are written in one transaction that
 * only the holder of the claim can make, so a crash never loses a file nor indexes it twice.
 */
export class VectorStoreStore {
  readonly #db: SqlDb;

  constructor(db: SqlDb) {
    this.#db = db;
  }

  async createStore(s: VectorStoreRecord): Promise<void> {
    await this.#db.run(
      "INSERT INTO vector_stores (id, project_id, created_at, seq, name, description, metadata, embedding_model, expires_after_days, last_active_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
      [s.id, s.projectId, s.createdAt, nextSeq(), s.name, s.description, JSON.stringify(s.metadata), s.embeddingModel, s.expiresAfterDays, s.lastActiveAt],
    );
  }

  async getStore(projectId: string, id: string): Promise<VectorStoreRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM vector_stores WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toStore(row);
  }

  async listStores(projectId: string, q: CursorQuery): Promise<Page<VectorStoreRecord>> {
    const page = await this.#page("vector_stores", "id", "project_id = ?", [projectId], q);
    return { data: page.data.map(toStore), hasMore: page.hasMore };
  }

  async updateStore(id: string, changes: { name?: string; metadata?: Record<string, string>; expiresAfterDays?: number | null }): Promise<void> {
    const sets: string[] = [];
    const params: Param[] = [];
    if (changes.name !== undefined) {
      sets.push("name = ?");
      params.push(changes.name);
    }
    if (changes.metadata !== undefined) {
      sets.push("metadata = ?");
      params.push(JSON.stringify(changes.metadata));
    }
    if (changes.expiresAfterDays !== undefined) {
      sets.push("expires_after_days = ?");
      params.push(changes.expiresAfterDays);
    }
    if (sets.length === 0) return;
    await this.#db.run(`UPDATE vector_stores SET ${sets.join(", ")} WHERE id = ?`, [...params, id]);
  }

  /** Records use (searches, file changes): stores expire a number of days after their last activity. */
  async touch(id: string, at: number): Promise<void> {
    await this.#db.run("UPDATE vector_stores SET last_active_at = ? WHERE id = ? AND last_active_at < ?", [at, id, at]);
  }

  async deleteStore(projectId: string, id: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const deleted = await tx.run("DELETE FROM vector_stores WHERE id = ? AND project_id = ?", [id, projectId]);
      if (deleted === 0) return false;
      await tx.run("DELETE FROM vector_store_chunks WHERE vector_store_id = ?", [id]);
      await tx.run("DELETE FROM vector_store_files WHERE vector_store_id = ?", [id]);
      await tx.run("DELETE FROM vector_store_file_batches WHERE vector_store_id = ?", [id]);
      return true;
    });
  }

  /** `file_counts` and `usage_bytes` of stores. */
  async stats(ids: readonly string[]): Promise<Map<string, { counts: FileCounts; usageBytes: number }>> {
    const out = new Map(ids.map((id) => [id, { counts: emptyCounts(), usageBytes: 0 }]));
    if (ids.length === 0) return out;
    const rows = await this.#db.all(
      `SELECT vector_store_id, status, COUNT(*) AS n, SUM(usage_bytes) AS bytes FROM vector_store_files WHERE vector_store_id IN (${ids.map(() => "?").join(", ")}) GROUP BY vector_store_id, status`,
      ids,
    );
    for (const r of rows) {
      const entry = out.get(str(r.vector_store_id));
      if (entry === undefined) continue;
      addCount(entry.counts, str(r.status), num(r.n));
      entry.usageBytes += num(r.bytes);
    }
    return out;
  }

  /**
   * Attaches files for indexing (a file attached again is indexed again with the new settings).
   * Its old chunks go at once, so searches never mix two versions of a file.
   */
  async addFiles(files: readonly VectorStoreFileRecord[]): Promise<void> {
    if (files.length === 0) return;
    await this.#db.transaction(async (tx) => {
      const stores = new Set<string>();
      for (const f of files) {
        stores.add(f.vectorStoreId);
        await tx.run("DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?", [f.vectorStoreId, f.fileId]);
        await tx.run("DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", [f.vectorStoreId, f.fileId]);
        await tx.run(
          "INSERT INTO vector_store_files (vector_store_id, file_id, project_id, created_at, seq, batch_id, filename, status, last_error, max_chunk_tokens, overlap_tokens, attributes, usage_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
          [f.vectorStoreId, f.fileId, f.projectId, f.createdAt, nextSeq(), f.batchId, f.filename, f.status, f.lastError === null ? null : JSON.stringify(f.lastError), f.maxChunkTokens, f.overlapTokens, JSON.stringify(f.attributes)],
        );
      }
      for (const id of stores) await tx.run("UPDATE vector_stores SET version = version + 1 WHERE id = ?", [id]);
    });
  }

  async getFile(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", [vectorStoreId, fileId]);
    return row === undefined ? undefined : toFile(row);
  }

  /** A store's files (or one batch's), optionally in one status. */
  async listFiles(vectorStoreId: string, q: CursorQuery & { status?: VectorStoreFileStatus | undefined; batchId?: string | undefined }): Promise<Page<VectorStoreFileRecord>> {
    let where = "vector_store_id = ?";
    const params: Param[] = [vectorStoreId];
    if (q.status !== undefined) {
      where += " AND status = ?";
      params.push(q.status);
    }
    if (q.batchId !== undefined) {
      where += " AND batch_id = ?";
      params.push(q.batchId);
    }
    const page = await this.#page("vector_store_files", "file_id", where, params, q);
    return { data: page.data.map(toFile), hasMore: page.hasMore };
  }

  async updateAttributes(vectorStoreId: string, fileId: string, attributes: Attributes): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run("UPDATE vector_store_files SET attributes = ? WHERE vector_store_id = ? AND file_id = ?", [JSON.stringify(attributes), vectorStoreId, fileId]);
      await tx.run("UPDATE vector_stores SET version = version + 1 WHERE id = ?", [vectorStoreId]);
    });
  }

  async deleteFile(vectorStoreId: string, fileId: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const deleted = await tx.run("DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", [vectorStoreId, fileId]);
      if (deleted === 0) return false;
      await tx.run("DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?", [vectorStoreId, fileId]);
      await tx.run("UPDATE vector_stores SET version = version + 1 WHERE id = ?", [vectorStoreId]);
      return true;
    });
  }

  /** The text extracted from an indexed file, or undefined before it is indexed. */
  async content(vectorStoreId: string, fileId: string): Promise<string | undefined> {
    const [row] = await this.#db.all("SELECT content FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", [vectorStoreId, fileId]);
    return row === undefined ? undefined : (strOrNull(row.content) ?? undefined);
  }

  async createBatch(b: FileBatchRecord, files: readonly VectorStoreFileRecord[]): Promise<void> {
    await this.#db.run("INSERT INTO vector_store_file_batches (id, vector_store_id, project_id, created_at, cancelled) VALUES (?, ?, ?, ?, 0)", [b.id, b.vectorStoreId, b.projectId, b.createdAt]);
    await this.addFiles(files);
  }

  async getBatch(vectorStoreId: string, id: string): Promise<FileBatchRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM vector_store_file_batches WHERE id = ? AND vector_store_id = ?", [id, vectorStoreId]);
    if (row === undefined) return undefined;
    return { id: str(row.id), vectorStoreId: str(row.vector_store_id), projectId: str(row.project_id), createdAt: num(row.created_at), cancelled: num(row.cancelled) === 1 };
  }

  async batchCounts(batchId: string): Promise<FileCounts> {
    const counts = emptyCounts();
    for (const r of await this.#db.all("SELECT status, COUNT(*) AS n FROM vector_store_files WHERE batch_id = ? GROUP BY status", [batchId])) addCount(counts, str(r.status), num(r.n));
    return counts;
  }

  /** Cancels a batch's files that are not indexed yet; a worker holding one finds it cancelled and drops its work. */
  async cancelBatch(batchId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run("UPDATE vector_store_file_batches SET cancelled = 1 WHERE id = ?", [batchId]);
      await tx.run("UPDATE vector_store_files SET status = 'cancelled', claim = NULL, claimed_until = NULL WHERE batch_id = ? AND status = 'in_progress'", [batchId]);
    });
  }

  /** Files waiting to be indexed or being indexed, across every store: the indexing queue's depth, for metrics. */
  async indexing(): Promise<number> {
    const [row] = await this.#db.all("SELECT COUNT(*) AS n FROM vector_store_files WHERE status = 'in_progress'", []);
    return num(row?.n);
  }

  /** Claims up to `limit` files waiting to be indexed (or whose lease ran out) for `leaseMs`. */
  async claim(limit: number, leaseMs: number): Promise<ClaimedFile[]> {
    const claim = sortableId(20);
    const now = Date.now();
    const lock = this.#db.dialect === "postgres" ? " FOR UPDATE OF f SKIP LOCKED" : "";
    return this.#db.transaction(async (tx) => {
      const rows = await tx.all(
        `SELECT f.vector_store_id, f.file_id, f.project_id, f.max_chunk_tokens, f.overlap_tokens, s.embedding_model FROM vector_store_files f JOIN vector_stores s ON s.id = f.vector_store_id WHERE f.status = 'in_progress' AND (f.claim IS NULL OR f.claimed_until < ?) ORDER BY f.seq LIMIT ?${lock}`,
        [now, limit],
      );
      for (const r of rows) {
        await tx.run("UPDATE vector_store_files SET claim = ?, claimed_until = ? WHERE vector_store_id = ? AND file_id = ?", [claim, now + leaseMs, str(r.vector_store_id), str(r.file_id)]);
      }
      return rows.map((r) => ({
        vectorStoreId: str(r.vector_store_id),
        fileId: str(r.file_id),
        projectId: str(r.project_id),
        maxChunkTokens: num(r.max_chunk_tokens),
        overlapTokens: num(r.overlap_tokens),
        embeddingModel: str(r.embedding_model),
        claim,
      }));
    });
  }

  async renew(claim: string, leaseMs: number): Promise<void> {
    await this.#db.run("UPDATE vector_store_files SET claimed_until = ? WHERE claim = ? AND status = 'in_progress'", [Date.now() + leaseMs, claim]);
  }

  /** Returns every claimed file to the queue (one process on SQLite: whatever it held died with it). */
  async releaseAll(): Promise<number> {
    return this.#db.run("UPDATE vector_store_files SET claim = NULL, claimed_until = NULL WHERE status = 'in_progress' AND claim IS NOT NULL", []);
  }

  async release(f: { vectorStoreId: string; fileId: string; claim: string }): Promise<void> {
    await this.#db.run("UPDATE vector_store_files SET claim = NULL, claimed_until = NULL WHERE vector_store_id = ? AND file_id = ? AND claim = ?", [f.vectorStoreId, f.fileId, f.claim]);
  }

  /**
   * Stores a file's chunks and marks it completed, all or nothing, and only while `claim` still
   * holds it (not cancelled, deleted or re-attached meanwhile). Returns whether it was written.
   */
  async finish(f: { vectorStoreId: string; fileId: string; claim: string }, indexed: IndexedFile): Promise<boolean> {
    const usageBytes = Buffer.byteLength(indexed.content) + indexed.chunks.reduce((sum, c) => sum + Buffer.byteLength(c.text) + c.embedding.length * 4, 0);
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run(
        "UPDATE vector_store_files SET status = 'completed', content = ?, usage_bytes = ?, claim = NULL, claimed_until = NULL WHERE vector_store_id = ? AND file_id = ? AND claim = ? AND status = 'in_progress'",
        [indexed.content, usageBytes, f.vectorStoreId, f.fileId, f.claim],
      );
      if (changed === 0) return false;
      await tx.run("DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?", [f.vectorStoreId, f.fileId]);
      for (const [i, c] of indexed.chunks.entries()) {
        await tx.run("INSERT INTO vector_store_chunks (vector_store_id, file_id, chunk_index, text, tokens, embedding) VALUES (?, ?, ?, ?, ?, ?)", [
          f.vectorStoreId,
          f.fileId,
          i,
          c.text,
          c.tokens,
          float32Bytes(c.embedding),
        ]);
      }
      await tx.run("UPDATE vector_stores SET version = version + 1 WHERE id = ?", [f.vectorStoreId]);
      return true;
    });
  }

  /** Marks a claimed file failed with its reason. */
  async fail(f: { vectorStoreId: string; fileId: string; claim: string }, error: VectorStoreFileError): Promise<boolean> {
    const changed = await this.#db.run(
      "UPDATE vector_store_files SET status = 'failed', last_error = ?, claim = NULL, claimed_until = NULL WHERE vector_store_id = ? AND file_id = ? AND claim = ? AND status = 'in_progress'",
      [JSON.stringify(error), f.vectorStoreId, f.fileId, f.claim],
    );
    return changed > 0;
  }

  /** The searchable files of a store: completed ones, with the attributes filters see and their attachment's `seq` (new when re-attached). */
  async searchableFiles(vectorStoreId: string): Promise<{ fileId: string; filename: string; attributes: Attributes; seq: number }[]> {
    const rows = await this.#db.all("SELECT file_id, filename, attributes, seq FROM vector_store_files WHERE vector_store_id = ? AND status = 'completed'", [vectorStoreId]);
    return rows.map((r) => ({ fileId: str(r.file_id), filename: str(r.filename), attributes: JSON.parse(str(r.attributes)) as Attributes, seq: num(r.seq) }));
  }

  /** The chunks of some files of a store, in file and chunk order. */
  async chunks(vectorStoreId: string, fileIds: readonly string[]): Promise<StoredChunk[]> {
    const out: StoredChunk[] = [];
    // Bounded IN lists keep the statement count small and under both databases' parameter limits.
    for (let i = 0; i < fileIds.length; i += 200) {
      const part = fileIds.slice(i, i + 200);
      const rows = await this.#db.all(
        `SELECT file_id, chunk_index, text, tokens, embedding FROM vector_store_chunks WHERE vector_store_id = ? AND file_id IN (${part.map(() => "?").join(", ")}) ORDER BY file_id, chunk_index`,
        [vectorStoreId, ...part],
      );
      for (const r of rows) out.push({ fileId: str(r.file_id), index: num(r.chunk_index), text: str(r.text), tokens: num(r.tokens), embedding: bytesVector(r.embedding) });
    }
    return out;
  }

  /** A page of `table`'s rows by creation order, after or before a cursor (`idColumn` value within `where`). */
  async #page(table: string, idColumn: string, where: string, params: readonly Param[], q: CursorQuery): Promise<Page<Row>> {
    let clause = where;
    const args: Param[] = [...params];
    const cursor = async (id: string): Promise<number | undefined> => {
      const [row] = await this.#db.all(`SELECT seq FROM ${table} WHERE ${where} AND ${idColumn} = ?`, [...params, id]);
      return row === undefined ? undefined : num(row.seq);
    };
    if (q.after !== undefined) {
      const seq = await cursor(q.after);
      if (seq === undefined) return { data: [], hasMore: false };
      clause += q.order === "desc" ? " AND seq < ?" : " AND seq > ?";
      args.push(seq);
    }
    // `before` pages towards the start: read backwards from the cursor, then restore the order.
    const backwards = q.before !== undefined;
    if (q.before !== undefined) {
      const seq = await cursor(q.before);
      if (seq === undefined) return { data: [], hasMore: false };
      clause += q.order === "desc" ? " AND seq > ?" : " AND seq < ?";
      args.push(seq);
    }
    const direction = (q.order === "desc") !== backwards ? "DESC" : "ASC";
    const rows = await this.#db.all(`SELECT * FROM ${table} WHERE ${clause} ORDER BY seq ${direction} LIMIT ?`, [...args, q.limit + 1]);
    const data = rows.slice(0, q.limit);
    if (backwards) data.reverse();
    return { data, hasMore: rows.length > q.limit };
  }
}

import { invalidRequest } from "../../core/errors.ts";
import { AUTO_CHUNKING } from "../../retrieval/chunker.ts";
import type { AttributeFilter, AttributeValue, SearchHit, SearchResult } from "../../retrieval/types.ts";
import type { FileCounts, FileBatchRecord, VectorStoreFileRecord, VectorStoreRecord } from "../../storage/vector-store-store.ts";
import { parseAttributeFilter, parseAttributes } from "./attribute-filters.ts";
import { FieldReader, invalidValue, readMetadata } from "./validate.ts";

/** A chunking strategy as applied: OpenAI reports `auto` as the static 800/400 it stands for. */
export interface Chunking {
  maxTokens: number;
  overlapTokens: number;
}

/** `chunking_strategy`: `auto` or `static` with 100–4096 tokens and an overlap of at most half. */
export function readChunking(reader: FieldReader, key = "chunking_strategy"): Chunking | undefined {
  const obj = reader.object(key);
  if (obj === undefined) return undefined;
  const type = obj.enumeration("type", ["auto", "static"] as const, { required: true });
  if (type === "auto") {
    obj.rejectUnknown(new Set(["type"]));
    return { ...AUTO_CHUNKING };
  }
  obj.rejectUnknown(new Set(["type", "static"]));
  const config = obj.object("static") ?? (obj.required("static") as never);
  config.rejectUnknown(new Set(["max_chunk_size_tokens", "chunk_overlap_tokens"]));
  config.required("max_chunk_size_tokens");
  config.required("chunk_overlap_tokens");
  const maxTokens = config.number("max_chunk_size_tokens", { integer: true, min: 100, max: 4096 }) as number;
  const overlapTokens = config.number("chunk_overlap_tokens", { integer: true, min: 0 }) as number;
  if (overlapTokens > maxTokens / 2) {
    throw invalidRequest(
      `Invalid '${config.path("chunk_overlap_tokens")}': the overlap (${overlapTokens}) must not exceed half of max_chunk_size_tokens (${maxTokens}).`,
      config.path("chunk_overlap_tokens"),
      "invalid_value",
    );
  }
  return { maxTokens, overlapTokens };
}

/** `expires_after`: `{anchor: "last_active_at", days: 1–365}`; null clears it (updates only). */
function readExpiresAfter(reader: FieldReader): number | null | undefined {
  if (reader.obj.expires_after === null) return null;
  const obj = reader.object("expires_after");
  if (obj === undefined) return undefined;
  obj.rejectUnknown(new Set(["anchor", "days"]));
  obj.enumeration("anchor", ["last_active_at"] as const, { required: true });
  obj.required("days");
  return obj.number("days", { integer: true, min: 1, max: 365 }) as number;
}

/** A validated `POST /v1/vector_stores` body. */
export interface CreateVectorStoreBody {
  fileIds: string[];
  name: string;
  description: string | null;
  expiresAfterDays: number | null;
  chunking: Chunking;
  metadata: Record<string, string>;
}

function readFileIds(reader: FieldReader, key: string, max: number, min = 0): string[] {
  const raw = reader.array(key, { minLength: min, maxLength: max }) ?? [];
  return raw.map((id, i) => {
    if (typeof id !== "string" || id === "") throw invalidRequest(`Invalid type for '${reader.path(key)}[${i}]': expected a non-empty string.`, `${reader.path(key)}[${i}]`, "invalid_type");
    return id;
  });
}

export function parseCreateVectorStore(body: unknown): CreateVectorStoreBody {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["file_ids", "name", "description", "expires_after", "chunking_strategy", "metadata"]));
  return {
    fileIds: readFileIds(reader, "file_ids", 500),
    name: reader.string("name") ?? "",
    description: reader.string("description") ?? null,
    expiresAfterDays: readExpiresAfter(reader) ?? null,
    chunking: readChunking(reader) ?? { ...AUTO_CHUNKING },
    metadata: readMetadata(reader, "metadata") ?? {},
  };
}

/** A validated `POST /v1/vector_stores/{id}` body; absent fields stay as they are. */
export function parseUpdateVectorStore(body: unknown): { name?: string; expiresAfterDays?: number | null; metadata?: Record<string, string> } {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["name", "expires_after", "metadata"]));
  const out: { name?: string; expiresAfterDays?: number | null; metadata?: Record<string, string> } = {};
  const name = reader.string("name");
  if (name !== undefined) out.name = name;
  const days = readExpiresAfter(reader);
  if (days !== undefined) out.expiresAfterDays = days;
  if (reader.obj.metadata === null) out.metadata = {};
  else {
    const metadata = readMetadata(reader, "metadata");
    if (metadata !== undefined) out.metadata = metadata;
  }
  return out;
}

/** One file to attach, with its settings. */
export interface FileToAttach {
  fileId: string;
  /** Where the file id came from, for 404s naming it. */
  param: string;
  chunking: Chunking;
  attributes: Record<string, AttributeValue>;
}

/** `POST /v1/vector_stores/{id}/files`. */
export function parseCreateVectorStoreFile(body: unknown): FileToAttach {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["file_id", "chunking_strategy", "attributes"]));
  return {
    fileId: reader.string("file_id", { required: true, nonEmpty: true }),
    param: "file_id",
    chunking: readChunking(reader) ?? { ...AUTO_CHUNKING },
    attributes: parseAttributes(reader.obj.attributes, "attributes") ?? {},
  };
}

/** `POST /v1/vector_stores/{id}/file_batches`: `file_ids` (shared settings) or `files` (each its own), not both. */
export function parseCreateFileBatch(body: unknown): FileToAttach[] {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["file_ids", "files", "chunking_strategy", "attributes"]));
  const hasIds = reader.has("file_ids");
  const hasFiles = reader.has("files");
  if (hasIds && hasFiles) throw invalidRequest("'file_ids' and 'files' are mutually exclusive: give one of them.", "files", "invalid_value");
  if (!hasIds && !hasFiles) throw invalidRequest("Missing required parameter: 'file_ids' (or 'files').", "file_ids", "missing_required_parameter");
  if (hasIds) {
    const chunking = readChunking(reader) ?? { ...AUTO_CHUNKING };
    const attributes = parseAttributes(reader.obj.attributes, "attributes") ?? {};
    return readFileIds(reader, "file_ids", 2000, 1).map((fileId, i) => ({ fileId, param: `file_ids[${i}]`, chunking, attributes }));
  }
  if (reader.has("chunking_strategy")) throw invalidRequest("'chunking_strategy' applies to 'file_ids'; with 'files', give it per file.", "chunking_strategy", "invalid_value");
  if (reader.has("attributes")) throw invalidRequest("'attributes' applies to 'file_ids'; with 'files', give them per file.", "attributes", "invalid_value");
  const files = reader.array("files", { minLength: 1, maxLength: 2000 }) ?? [];
  return files.map((raw, i) => {
    const item = new FieldReader(raw, `files[${i}]`);
    item.rejectUnknown(new Set(["file_id", "chunking_strategy", "attributes"]));
    return {
      fileId: item.string("file_id", { required: true, nonEmpty: true }),
      param: item.path("file_id"),
      chunking: readChunking(item) ?? { ...AUTO_CHUNKING },
      attributes: parseAttributes(item.obj.attributes, item.path("attributes")) ?? {},
    };
  });
}

/** The `attributes` update of a vector store file. */
export function parseUpdateFileAttributes(body: unknown): Record<string, AttributeValue> {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["attributes"]));
  if (!(reader.obj.attributes === null)) reader.required("attributes");
  return parseAttributes(reader.obj.attributes, "attributes") ?? {};
}

/** A validated search body. */
export interface SearchBody {
  queries: string[];
  rewriteQuery: boolean;
  maxResults: number;
  filter: AttributeFilter | undefined;
  scoreThreshold: number;
}

/** `POST /v1/vector_stores/{id}/search`. */
export function parseSearch(body: unknown): SearchBody {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["query", "rewrite_query", "max_num_results", "filters", "ranking_options"]));
  const raw = reader.required("query");
  let queries: string[];
  if (typeof raw === "string") queries = [raw];
  else if (Array.isArray(raw)) {
    if (raw.length === 0) throw invalidRequest("Invalid 'query': empty array. Expected at least one query.", "query", "empty_array");
    if (raw.length > 20) throw invalidRequest(`Invalid 'query': array too long. Expected at most 20 queries, but got ${raw.length}.`, "query", "array_above_max_length");
    queries = raw.map((q, i) => {
      if (typeof q !== "string") throw invalidRequest(`Invalid type for 'query[${i}]': expected a string.`, `query[${i}]`, "invalid_type");
      return q;
    });
  } else throw invalidRequest("Invalid type for 'query': expected a string or an array of strings.", "query", "invalid_type");
  queries.forEach((q, i) => {
    const param = typeof raw === "string" ? "query" : `query[${i}]`;
    if (q.trim() === "") throw invalidRequest(`Invalid '${param}': empty string.`, param, "empty_string");
    if (q.length > 10_000) throw invalidRequest(`Invalid '${param}': string too long. Expected at most 10000 characters.`, param, "string_above_max_length");
  });
  let scoreThreshold = 0;
  const ranking = reader.object("ranking_options");
  if (ranking !== undefined) {
    ranking.rejectUnknown(new Set(["ranker", "score_threshold"]));
    ranking.enumeration("ranker", ["none", "auto", "default-2024-11-15"] as const);
    scoreThreshold = ranking.number("score_threshold", { min: 0, max: 1 }) ?? 0;
  }
  return {
    queries,
    rewriteQuery: reader.boolean("rewrite_query") ?? false,
    maxResults: reader.number("max_num_results", { integer: true, min: 1, max: 50 }) ?? 10,
    filter: reader.has("filters") ? parseAttributeFilter(reader.obj.filters, "filters") : undefined,
    scoreThreshold,
  };
}

/** The store's status: expired, in_progress while a file is being indexed, else completed. */
function storeStatus(expiresAt: number | null, counts: FileCounts, now: number): "expired" | "in_progress" | "completed" {
  if (expiresAt !== null && expiresAt <= now) return "expired";
  return counts.in_progress > 0 ? "in_progress" : "completed";
}

/** The `vector_store` object. */
export function renderVectorStore(s: VectorStoreRecord, stats: { counts: FileCounts; usageBytes: number }, expiresAt: number | null, now: number): Record<string, unknown> & { id: string } {
  return {
    id: s.id,
    object: "vector_store",
    created_at: s.createdAt,
    name: s.name,
    usage_bytes: stats.usageBytes,
    file_counts: stats.counts,
    status: storeStatus(expiresAt, stats.counts, now),
    ...(s.expiresAfterDays === null ? {} : { expires_after: { anchor: "last_active_at", days: s.expiresAfterDays } }),
    expires_at: expiresAt,
    last_active_at: s.lastActiveAt,
    metadata: s.metadata,
  };
}

/** The `vector_store.file` object; its id is the file's id. */
export function renderVectorStoreFile(f: VectorStoreFileRecord): Record<string, unknown> & { id: string } {
  return {
    id: f.fileId,
    object: "vector_store.file",
    usage_bytes: f.usageBytes,
    created_at: f.createdAt,
    vector_store_id: f.vectorStoreId,
    status: f.status,
    last_error: f.lastError,
    chunking_strategy: { type: "static", static: { max_chunk_size_tokens: f.maxChunkTokens, chunk_overlap_tokens: f.overlapTokens } },
    attributes: f.attributes,
  };
}

/** The `vector_store.files_batch` object: in progress while any of its files is, then cancelled, failed (all failed) or completed. */
export function renderFileBatch(b: FileBatchRecord, counts: FileCounts): Record<string, unknown> & { id: string } {
  const status = counts.in_progress > 0 ? "in_progress" : b.cancelled ? "cancelled" : counts.total > 0 && counts.failed === counts.total ? "failed" : "completed";
  return { id: b.id, object: "vector_store.files_batch", created_at: b.createdAt, vector_store_id: b.vectorStoreId, status, file_counts: counts };
}

/** One search result as the search endpoint shows it. */
function renderHit(h: SearchHit): Record<string, unknown> {
  return { file_id: h.fileId, filename: h.filename, score: h.score, attributes: h.attributes, content: [{ type: "text", text: h.text }] };
}

/** The `vector_store.search_results.page` object. */
export function renderSearchResults(result: SearchResult): Record<string, unknown> {
  return { object: "vector_store.search_results.page", search_query: result.queries, data: result.hits.map(renderHit), has_more: false, next_page: null };
}

/** The `vector_store.file_content.page` object: a file's parsed text in one page, or none when it has none. */
export function renderFileContentPage(text: string | undefined): Record<string, unknown> {
  return { object: "vector_store.file_content.page", data: text === undefined ? [] : [{ type: "text", text }], has_more: false, next_page: null };
}

/** The status filter of file lists. */
export function readStatusFilter(query: URLSearchParams): VectorStoreFileRecord["status"] | undefined {
  const value = query.get("filter");
  if (value === null) return undefined;
  const allowed = ["in_progress", "completed", "failed", "cancelled"] as const;
  if (!(allowed as readonly string[]).includes(value)) throw invalidValue("filter", value, allowed);
  return value as VectorStoreFileRecord["status"];
}

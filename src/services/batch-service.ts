import { emptyUsage, type Usage } from "../core/chat.ts";
import { ApiError, invalidRequest, missingFileBytes, objectNotFound, toApiError } from "../core/errors.ts";
import { prefixedId, randomHex, unixSeconds } from "../core/ids.ts";
import { priceUsage, type Pricing } from "../core/pricing.ts";
import { renderBatchNotRunLine, renderBatchResultLine } from "../protocol/openai/batches.ts";
import { BlobNotFoundError } from "../storage/blob-store.ts";
import type { BatchError, BatchRecord, BatchRequestResult, BatchRequestRow, BatchStore } from "../storage/batch-store.ts";
import type { FileStore } from "../storage/file-store.ts";
import type { Principal } from "./access.ts";
import { answerJson, type Endpoint, type EndpointCall } from "./endpoints/endpoint.ts";
import type { ModelRegistry } from "./model-registry.ts";
import { BATCH_DISCOUNT } from "./usage-meter.ts";

/** Endpoints a batch may target here. */
export const BATCH_ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions", "/v1/moderations"] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/** The endpoint each batch URL runs: the same use cases the HTTP routes call. */
export type BatchEndpoints = Readonly<Record<BatchEndpoint, Endpoint<unknown>>>;

/** OpenAI's limit on a batch input file. */
export const MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024;
/** Validation reports at most this many line errors. */
const MAX_REPORTED_ERRORS = 100;
/** Output and error files are kept this long, as OpenAI keeps batch output by default (30 days). */
const OUTPUT_TTL_SECONDS = 30 * 24 * 3600;

/** The result of validating an input file: its requests, or what is wrong with it. */
export type Validation = { ok: true; rows: BatchRequestRow[] } | { ok: false; errors: BatchError[] };

/**
 * Batches as a use case: creation (the input file checked for ownership and purpose), validation
 * of every line, running one queued request through the same code as its endpoint (at background
 * priority), and writing the output and error files in OpenAI's JSONL format.
 */
export class BatchService {
  readonly #batches: BatchStore;
  readonly #files: FileStore;
  readonly #registry: ModelRegistry;
  readonly #endpoints: BatchEndpoints;
  readonly #maxRequests: number;

  constructor(deps: { batches: BatchStore; files: FileStore; registry: ModelRegistry; endpoints: BatchEndpoints; maxRequests: number }) {
    this.#batches = deps.batches;
    this.#files = deps.files;
    this.#registry = deps.registry;
    this.#endpoints = deps.endpoints;
    this.#maxRequests = deps.maxRequests;
  }

  /** Creates a batch in `validating`; the worker validates and starts it. */
  async create(principal: Principal, input: { inputFileId: string; endpoint: BatchEndpoint; metadata: Record<string, string> }): Promise<BatchRecord> {
    const file = await this.#files.get(principal.projectId, input.inputFileId);
    if (file === undefined) throw objectNotFound("File", input.inputFileId, "input_file_id", "file_not_found");
    if (file.purpose !== "batch") throw invalidRequest(`File '${file.id}' has purpose '${file.purpose}'; a batch needs a file uploaded with purpose 'batch'.`, "input_file_id", "invalid_file_purpose");
    if (file.bytes > MAX_BATCH_FILE_BYTES) throw invalidRequest(`The input file is larger than ${MAX_BATCH_FILE_BYTES} bytes.`, "input_file_id", "file_too_large");
    const createdAt = unixSeconds();
    const record: BatchRecord = {
      id: prefixedId("batch_", 32),
      projectId: principal.projectId,
      keyId: principal.keyId,
      createdAt,
      endpoint: input.endpoint,
      inputFileId: file.id,
      completionWindow: "24h",
      status: "validating",
      outputFileId: null,
      errorFileId: null,
      expiresAt: createdAt + 24 * 3600,
      inProgressAt: null,
      finalizingAt: null,
      completedAt: null,
      failedAt: null,
      expiredAt: null,
      cancellingAt: null,
      cancelledAt: null,
      total: 0,
      completed: 0,
      failed: 0,
      metadata: input.metadata,
      errors: null,
      usage: emptyUsage(),
    };
    await this.#batches.insert(record);
    return record;
  }

  async get(projectId: string, id: string): Promise<BatchRecord> {
    const b = await this.#batches.get(projectId, id);
    if (b === undefined) throw objectNotFound("Batch", id, "batch_id", "batch_not_found");
    return b;
  }

  /** Asks a batch to stop: requests running finish, the rest are not run; results so far are kept. */
  async cancel(projectId: string, id: string): Promise<BatchRecord> {
    const b = await this.get(projectId, id);
    if (b.status === "cancelling" || b.status === "cancelled") return b;
    const moved = await this.#batches.transition(id, ["validating", "in_progress"], "cancelling", unixSeconds());
    if (!moved) throw new ApiError(409, `Cannot cancel a batch with status '${(await this.get(projectId, id)).status}'.`, { type: "invalid_request_error", param: "batch_id", code: "batch_not_cancellable" });
    return this.get(projectId, id);
  }

  /** Checks every line of a batch's input file. */
  async validate(b: BatchRecord): Promise<Validation> {
    const file = await this.#files.get(b.projectId, b.inputFileId);
    if (file === undefined) return { ok: false, errors: [{ code: "file_not_found", message: `The input file '${b.inputFileId}' no longer exists.`, param: "input_file_id", line: null }] };
    let bytes: Buffer;
    try {
      bytes = await this.#files.readBytes(file.id);
    } catch (error) {
      // Another failure (the blob store unreachable) is thrown: the worker tries again at its next pass.
      if (!(error instanceof BlobNotFoundError)) throw error;
      // The record is in the database, the bytes are not in the blob store: say so, not "bad encoding".
      const missing = missingFileBytes(file.id);
      return { ok: false, errors: [{ code: "file_content_missing", message: missing.message, param: "input_file_id", line: null }] };
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return { ok: false, errors: [{ code: "invalid_file_encoding", message: "The input file is not valid UTF-8.", param: "input_file_id", line: null }] };
    }
    const lines = text.split(/\r?\n/);
    if (lines.at(-1) === "") lines.pop();
    const errors: BatchError[] = [];
    const rows: BatchRequestRow[] = [];
    const seen = new Set<string>();
    const fail = (line: number, code: string, message: string, param: string | null = null): void => {
      if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
    };
    if (lines.length === 0) return { ok: false, errors: [{ code: "empty_file", message: "The input file has no requests.", param: "input_file_id", line: null }] };
    if (lines.length > this.#maxRequests) {
      return { ok: false, errors: [{ code: "too_many_requests", message: `The input file has ${lines.length} lines; a batch may have at most ${this.#maxRequests}.`, param: "input_file_id", line: null }] };
    }
    lines.forEach((raw, i) => {
      const line = i + 1;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        fail(line, "invalid_json_line", `Line ${line} is not valid JSON.`);
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) return fail(line, "invalid_request", `Line ${line} must be a JSON object.`);
      const entry = value as Record<string, unknown>;
      for (const key of Object.keys(entry)) if (!["custom_id", "method", "url", "body"].includes(key)) return fail(line, "invalid_request", `Unknown field '${key}' on line ${line}.`, key);
      if (typeof entry.custom_id !== "string" || entry.custom_id === "") return fail(line, "missing_custom_id", `Line ${line} needs a non-empty string 'custom_id'.`, "custom_id");
      if (seen.has(entry.custom_id)) return fail(line, "duplicate_custom_id", `The custom_id '${entry.custom_id}' on line ${line} is used more than once.`, "custom_id");
      seen.add(entry.custom_id);
      if (entry.method !== "POST") return fail(line, "invalid_method", `Line ${line}: 'method' must be "POST".`, "method");
      if (entry.url !== b.endpoint) return fail(line, "invalid_url", `Line ${line}: 'url' must be '${b.endpoint}', the batch's endpoint.`, "url");
      const problem = this.#checkBody(b.endpoint as BatchEndpoint, entry.body);
      if (problem !== undefined) return fail(line, problem.code, `Line ${line}: ${problem.message}`, problem.param);
      rows.push({ batchId: b.id, line, customId: entry.custom_id, body: JSON.stringify(entry.body) });
    });
    return errors.length > 0 ? { ok: false, errors } : { ok: true, rows };
  }

  /** What is wrong with a request body for the endpoint, if anything, with `body.`-prefixed params. */
  #checkBody(endpoint: BatchEndpoint, body: unknown): { code: string; message: string; param: string | null } | undefined {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return { code: "invalid_request", message: "'body' must be a JSON object.", param: "body" };
    const b = body as Record<string, unknown>;
    try {
      this.#endpoints[endpoint].parse(body);
    } catch (error) {
      const e = toApiError(error);
      return { code: e.code ?? "invalid_request", message: e.message, param: e.param === null ? "body" : `body.${e.param}` };
    }
    if (b.stream === true) return { code: "invalid_request", message: "Batch requests cannot stream.", param: "body.stream" };
    if (b.background === true) return { code: "invalid_request", message: "Batch requests cannot run in the background.", param: "body.background" };
    if (!this.#registry.has(String(b.model))) return { code: "model_not_found", message: `The model '${String(b.model)}' does not exist.`, param: "body.model" };
    return undefined;
  }

  /**
   * Runs one queued request as its endpoint would, at background priority, and returns its output
   * line and usage. Request errors become error-file lines, never exceptions.
   */
  async execute(b: BatchRecord, row: BatchRequestRow, signal: AbortSignal): Promise<BatchRequestResult> {
    const started = performance.now();
    const requestId = `req_${randomHex(16)}`;
    const principal: Principal = { projectId: b.projectId, keyId: b.keyId, admin: false, models: null };
    let usage: Usage = emptyUsage();
    let model = "";
    let pricing: Pricing | undefined;
    let status = 200;
    let body: unknown;
    // The batch was admitted when it was created; each line is metered at batch prices below.
    const call: EndpointCall = {
      principal,
      signal,
      priority: "background",
      admit: () => Promise.resolve(),
      served: (m) => {
        model = m.descriptor.id;
        pricing = m.descriptor.pricing;
      },
      usage: (u) => {
        usage = u;
      },
    };
    try {
      const endpoint = this.#endpoints[b.endpoint as BatchEndpoint];
      const answer = await endpoint.run(call, endpoint.parse(JSON.parse(row.body)));
      status = answer.status;
      body = answerJson(answer);
    } catch (error) {
      if (signal.aborted) throw error;
      const e = toApiError(error);
      status = e.status;
      body = e.toJSON();
    }
    const failed = status >= 400;
    const result = JSON.stringify(renderBatchResultLine(row.customId, status, requestId, body));
    const metered = model !== "" && (usage.promptTokens > 0 || usage.completionTokens > 0);
    return {
      result,
      failed,
      usage,
      usageRecord: metered
        ? {
            createdAt: unixSeconds(),
            projectId: b.projectId,
            keyId: b.keyId,
            model,
            endpoint: b.endpoint,
            latencyMs: Math.round(performance.now() - started),
            status,
            costUsd: pricing === undefined ? 0 : priceUsage(usage, pricing) * BATCH_DISCOUNT,
          }
        : undefined,
    };
  }

  /**
   * Writes a batch's output file (successful requests) and error file (failed ones, and requests
   * never run when the batch expired or was cancelled), in input order; either is null when empty.
   */
  async writeResults(b: BatchRecord, notRunCode: "batch_expired" | "batch_cancelled" | null): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    const batches = this.#batches;
    const expiresAt = unixSeconds() + OUTPUT_TTL_SECONDS;
    async function* lines(failed: boolean): AsyncGenerator<Buffer> {
      let after = 0;
      for (;;) {
        const page = await batches.results(b.id, failed, after, 500);
        if (page.length === 0) break;
        yield Buffer.from(page.map((r) => `${r.result}\n`).join(""));
        after = page.at(-1)?.line ?? after;
      }
      if (!failed || notRunCode === null) return;
      const message = notRunCode === "batch_expired" ? "This request could not be executed before the completion window expired." : "This request was not executed because the batch was cancelled.";
      let line = 0;
      for (;;) {
        const page = await batches.notRun(b.id, line, 500);
        if (page.length === 0) break;
        yield Buffer.from(page.map((r) => `${JSON.stringify(renderBatchNotRunLine(r.customId, notRunCode, message))}\n`).join(""));
        line = page.at(-1)?.line ?? line;
      }
    }
    const write = async (failed: boolean): Promise<string | null> => {
      const file = await this.#files.create(b.projectId, { filename: `${b.id}_${failed ? "error" : "output"}.jsonl`, purpose: "batch_output", expiresAt }, lines(failed), Number.MAX_SAFE_INTEGER);
      if (file.bytes > 0) return file.id;
      await this.#files.delete(b.projectId, file.id);
      return null;
    };
    return { outputFileId: await write(false), errorFileId: await write(true) };
  }
}

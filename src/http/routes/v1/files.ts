import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { invalidRequest, missingFileBytes, objectNotFound } from "../../../core/errors.ts";
import { unixSeconds } from "../../../core/ids.ts";
import { renderDeleted } from "../../../protocol/openai/deleted.ts";
import { renderFile } from "../../../protocol/openai/files.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { invalidValue } from "../../../protocol/openai/validate.ts";
import { BlobNotFoundError } from "../../../storage/blob-store.ts";
import { fileTooLarge, type FilePurpose, type FileRecord, type FileStore } from "../../../storage/file-store.ts";
import { readMultipart } from "../../multipart.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { readPageQuery } from "./paging.ts";

/** What the Files API needs. */
export interface FileDeps {
  files: FileStore;
  /** The largest file accepted (`files.maxBytes`). */
  maxBytes: number;
}

/** The purposes a client may give a file it uploads (the rest are made by the server's own jobs). */
export const UPLOAD_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const satisfies readonly FilePurpose[];

/** The bounds of `expires_after.seconds`: an hour to 30 days. */
export const EXPIRY_MIN_SECONDS = 3600;
export const EXPIRY_MAX_SECONDS = 2_592_000;
/** Files with purpose `batch` expire after 30 days unless `expires_after` says otherwise, as OpenAI's do. */
export const BATCH_FILE_TTL_SECONDS = 2_592_000;

/** Checks a `purpose` a client gave. */
export function readUploadPurpose(value: string, param = "purpose"): FilePurpose {
  if (!(UPLOAD_PURPOSES as readonly string[]).includes(value)) throw invalidValue(param, value, UPLOAD_PURPOSES);
  return value as FilePurpose;
}

/** Checks `expires_after.seconds`, given as a number (JSON) or text (a form field). */
export function readExpirySeconds(value: unknown, param = "expires_after.seconds"): number {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw invalidRequest(`Invalid type for '${param}': expected an integer, but got ${JSON.stringify(value)} instead.`, param, "invalid_type");
  }
  if (n < EXPIRY_MIN_SECONDS) throw invalidRequest(`Invalid '${param}': integer below minimum value. Expected a value >= ${EXPIRY_MIN_SECONDS}, but got ${n} instead.`, param, "integer_below_min_value");
  if (n > EXPIRY_MAX_SECONDS) throw invalidRequest(`Invalid '${param}': integer above maximum value. Expected a value <= ${EXPIRY_MAX_SECONDS}, but got ${n} instead.`, param, "integer_above_max_value");
  return n;
}

/** Checks `expires_after.anchor`: only `created_at` exists. */
export function readExpiryAnchor(value: unknown, param = "expires_after.anchor"): void {
  if (typeof value !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${JSON.stringify(value)} instead.`, param, "invalid_type");
  if (value !== "created_at") throw invalidValue(param, value, ["created_at"]);
}

/** When a file made at `createdAt` expires: after `seconds` when given, after 30 days for batch input, else never. */
export function fileExpiresAt(createdAt: number, purpose: FilePurpose, seconds: number | null): number | null {
  if (seconds !== null) return createdAt + seconds;
  return purpose === "batch" ? createdAt + BATCH_FILE_TTL_SECONDS : null;
}

const ANCHOR = "expires_after[anchor]";
const SECONDS = "expires_after[seconds]";

/** The form's `expires_after`: both fields or neither. */
function readFormExpiry(fields: ReadonlyMap<string, string>): number | null {
  const anchor = fields.get(ANCHOR);
  const seconds = fields.get(SECONDS);
  if (anchor === undefined && seconds === undefined) return null;
  if (anchor === undefined) throw invalidRequest("Missing required parameter: 'expires_after.anchor'.", "expires_after.anchor", "missing_required_parameter");
  if (seconds === undefined) throw invalidRequest("Missing required parameter: 'expires_after.seconds'.", "expires_after.seconds", "missing_required_parameter");
  readExpiryAnchor(anchor);
  return readExpirySeconds(seconds);
}

/**
 * A file name as stored: the client's, without directories or control characters, at most 255
 * characters. FormData (browsers, undici, the SDK) sends `"` as `%22`, which is turned back.
 */
export function cleanFilename(name: string | undefined): string {
  const base = (name ?? "").replaceAll("%22", '"').split(/[\\/]/).pop()?.replace(/[\u0000-\u001f\u007f]/g, "").trim() ?? "";
  return base === "" ? "file" : base.slice(0, 255);
}

/** The caller's project's file named in the path, or a 404 (also for another project's, or an expired one). */
async function fileOr404(files: FileStore, ctx: RequestContext): Promise<FileRecord> {
  const id = ctx.params.file_id ?? "";
  const file = await files.get(ctx.principal.projectId, id);
  if (file === undefined) throw objectNotFound("File", id, "file_id", "file_not_found");
  return file;
}

/**
 * OpenAI's Files API (`/v1/files…`), every file owned by the caller's project. Uploads are
 * multipart forms streamed straight to the blob store (never held in memory), up to `maxBytes`.
 */
export function fileRoutes(deps: FileDeps): Route[] {
  const { files, maxBytes } = deps;
  return [
    {
      method: "POST",
      pattern: "/v1/files",
      handler: async (ctx) => {
        const form = await readMultipart(ctx.req, {
          fileField: "file",
          textFields: ["purpose", ANCHOR, SECONDS],
          maxFileBytes: maxBytes,
          tooLarge: () => fileTooLarge(maxBytes),
          checkField: (name, value) => {
            if (name === "purpose") readUploadPurpose(value);
            else if (name === ANCHOR) readExpiryAnchor(value);
            else if (name === SECONDS) readExpirySeconds(value);
          },
          store: (stream) => files.writeBytes(stream, maxBytes),
          discard: (written) => files.discard(written.id),
        });
        const { id, bytes } = form.file;
        try {
          const purposeText = form.fields.get("purpose");
          if (purposeText === undefined) throw invalidRequest("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter");
          const purpose = readUploadPurpose(purposeText);
          const seconds = readFormExpiry(form.fields);
          const createdAt = unixSeconds();
          const record = await files.insert({
            id,
            projectId: ctx.principal.projectId,
            createdAt,
            expiresAt: fileExpiresAt(createdAt, purpose, seconds),
            bytes,
            filename: cleanFilename(form.info.filename),
            purpose,
            status: "processed",
          });
          sendJson(ctx.res, 200, renderFile(record));
        } catch (error) {
          await files.discard(id);
          throw error;
        }
      },
    },
    {
      method: "GET",
      pattern: "/v1/files",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc", { default: 10_000, max: 10_000 });
        const purpose = ctx.query.get("purpose");
        const { data, hasMore } = await files.list(ctx.principal.projectId, { ...page, purpose: purpose === null || purpose === "" ? undefined : purpose });
        sendJson(ctx.res, 200, renderList(data.map(renderFile), hasMore));
      },
    },
    {
      method: "GET",
      pattern: "/v1/files/:file_id",
      handler: async (ctx) => sendJson(ctx.res, 200, renderFile(await fileOr404(files, ctx))),
    },
    {
      method: "GET",
      pattern: "/v1/files/:file_id/content",
      handler: async (ctx) => {
        const file = await fileOr404(files, ctx);
        let stream: Readable;
        try {
          stream = await files.read(file.id);
        } catch (error) {
          if (!(error instanceof BlobNotFoundError)) throw error;
          // Deleted between the lookup and the read; or its record is here and its bytes are not.
          if ((await files.get(ctx.principal.projectId, file.id)) === undefined) throw objectNotFound("File", file.id, "file_id", "file_not_found");
          throw missingFileBytes(file.id);
        }
        ctx.res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": String(file.bytes),
          "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.filename)}`,
        });
        await pipeline(stream, ctx.res);
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/files/:file_id",
      handler: async (ctx) => {
        const file = await fileOr404(files, ctx);
        if (!(await files.delete(ctx.principal.projectId, file.id))) throw objectNotFound("File", file.id, "file_id", "file_not_found");
        sendJson(ctx.res, 200, renderDeleted(file.id, "file"));
      },
    },
  ];
}

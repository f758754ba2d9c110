import { createHash } from "node:crypto";
import { ApiError, invalidRequest, objectNotFound } from "../../../core/errors.ts";
import { prefixedId, unixSeconds } from "../../../core/ids.ts";
import { FieldReader } from "../../../protocol/openai/validate.ts";
import { renderPart, renderUpload } from "../../../protocol/openai/uploads.ts";
import type { FileStore } from "../../../storage/file-store.ts";
import { visibleStatus, type UploadRecord, type UploadStore } from "../../../storage/upload-store.ts";
import { readMultipart, refuseBody } from "../../multipart.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { EXPIRY_MAX_SECONDS, EXPIRY_MIN_SECONDS, fileExpiresAt, readExpiryAnchor, readUploadPurpose } from "./files.ts";

/** What the Uploads API needs. */
export interface UploadDeps {
  uploads: UploadStore;
  files: FileStore;
  /** The largest file an upload may assemble (`files.maxBytes`). */
  maxBytes: number;
}

/** The largest part, as OpenAI allows. */
export const PART_MAX_BYTES = 64 * 1024 * 1024;
/** An upload takes parts for an hour after it is created. */
export const UPLOAD_TTL_SECONDS = 3600;

/** 400 for an upload that can no longer take parts, be completed or be cancelled. */
function notPending(u: UploadRecord): ApiError {
  const state = u.status === "completing" ? "is being completed" : `is ${visibleStatus(u)}`;
  return invalidRequest(`Upload '${u.id}' ${state}; only a pending Upload can take parts, be completed or be cancelled.`, "upload_id", "upload_not_pending");
}

function partTooLarge(limit: number): ApiError {
  const message =
    limit === PART_MAX_BYTES
      ? `A part may be at most 64 MB (${PART_MAX_BYTES} bytes).`
      : `A part may not be larger than its Upload (${limit} bytes).`;
  return new ApiError(413, message, { type: "invalid_request_error", code: "file_too_large", param: "data" });
}

/** The caller's project's upload named in the path, or a 404 (also for another project's). */
async function uploadOr404(uploads: UploadStore, ctx: RequestContext): Promise<UploadRecord> {
  const id = ctx.params.upload_id ?? "";
  const upload = await uploads.get(ctx.principal.projectId, id);
  if (upload === undefined) throw objectNotFound("Upload", id, "upload_id", "upload_not_found");
  return upload;
}

/** Reads the body of `POST /v1/uploads`. */
function parseCreateUpload(body: unknown, maxBytes: number): Pick<UploadRecord, "filename" | "purpose" | "bytes" | "mimeType" | "fileExpiresAfter"> {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["filename", "purpose", "bytes", "mime_type", "expires_after"]));
  const filename = reader.string("filename", { required: true, nonEmpty: true, maxLength: 255 });
  const purpose = readUploadPurpose(reader.string("purpose", { required: true }));
  reader.required("bytes");
  const bytes = reader.number("bytes", { integer: true, min: 0 }) as number;
  if (bytes > maxBytes) {
    throw invalidRequest(`Invalid 'bytes': ${bytes} is larger than this server's file limit of ${maxBytes} bytes.`, "bytes", "integer_above_max_value");
  }
  const mimeType = reader.string("mime_type", { required: true, nonEmpty: true, maxLength: 255 });
  let fileExpiresAfter: number | null = null;
  const expiresAfter = reader.object("expires_after");
  if (expiresAfter !== undefined) {
    expiresAfter.rejectUnknown(new Set(["anchor", "seconds"]));
    readExpiryAnchor(expiresAfter.required("anchor"));
    expiresAfter.required("seconds");
    fileExpiresAfter = expiresAfter.number("seconds", { integer: true, min: EXPIRY_MIN_SECONDS, max: EXPIRY_MAX_SECONDS }) as number;
  }
  return { filename, purpose, bytes, mimeType, fileExpiresAfter };
}

/** Reads the body of `POST /v1/uploads/{id}/complete`. */
function parseComplete(body: unknown): { partIds: string[]; md5: string | undefined } {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["part_ids", "md5"]));
  const raw = reader.array("part_ids", { required: true }) as unknown[];
  const partIds = raw.map((id, i) => {
    if (typeof id !== "string") throw invalidRequest(`Invalid type for 'part_ids[${i}]': expected a string, but got ${JSON.stringify(id)} instead.`, `part_ids[${i}]`, "invalid_type");
    return id;
  });
  const md5 = reader.string("md5");
  if (md5 !== undefined && !/^[0-9a-fA-F]{32}$/.test(md5)) throw invalidRequest("Invalid 'md5': expected 32 hexadecimal digits.", "md5", "invalid_value");
  return { partIds, md5: md5?.toLowerCase() };
}

/**
 * OpenAI's Uploads API (`/v1/uploads…`): a file declared up front (name, purpose, size), sent in
 * parts of up to 64 MB each (streamed to disk as they come, in any order or in parallel), then
 * completed into a file by listing its parts in order. An upload takes parts for an hour.
 */
export function uploadRoutes(deps: UploadDeps): Route[] {
  const { uploads, files, maxBytes } = deps;
  return [
    {
      method: "POST",
      pattern: "/v1/uploads",
      handler: async (ctx) => {
        const body = parseCreateUpload(await ctx.readJson(), maxBytes);
        const createdAt = unixSeconds();
        const upload: UploadRecord = {
          id: prefixedId("upload_", 24),
          projectId: ctx.principal.projectId,
          createdAt,
          expiresAt: createdAt + UPLOAD_TTL_SECONDS,
          ...body,
          status: "pending",
          fileId: null,
        };
        await uploads.create(upload);
        sendJson(ctx.res, 200, renderUpload(upload));
      },
    },
    {
      method: "POST",
      pattern: "/v1/uploads/:upload_id/parts",
      handler: async (ctx) => {
        let upload: UploadRecord;
        try {
          upload = await uploadOr404(uploads, ctx);
          if (visibleStatus(upload) !== "pending" || upload.status === "completing") throw notPending(upload);
        } catch (error) {
          if (error instanceof ApiError) return refuseBody(ctx.req, error);
          throw error;
        }
        const limit = Math.min(PART_MAX_BYTES, upload.bytes);
        const form = await readMultipart(ctx.req, {
          fileField: "data",
          textFields: [],
          maxFileBytes: limit,
          tooLarge: () => partTooLarge(limit),
          store: (stream) => uploads.writePart(upload.id, stream, limit, () => partTooLarge(limit)),
          discard: (part) => uploads.discardPart(part),
        });
        const part = form.file;
        if (!(await uploads.addPart(part))) {
          await uploads.discardPart(part);
          const now = await uploads.get(upload.projectId, upload.id);
          throw notPending(now ?? { ...upload, status: "cancelled" });
        }
        sendJson(ctx.res, 200, renderPart(part));
      },
    },
    {
      method: "POST",
      pattern: "/v1/uploads/:upload_id/complete",
      handler: async (ctx) => {
        const { partIds, md5 } = parseComplete(await ctx.readJson());
        const upload = await uploadOr404(uploads, ctx);
        if (visibleStatus(upload) !== "pending" || upload.status === "completing") throw notPending(upload);
        const known = new Map((await uploads.parts(upload.id)).map((p) => [p.id, p]));
        const seen = new Set<string>();
        const ordered = partIds.map((id, i) => {
          const part = known.get(id);
          if (part === undefined) throw invalidRequest(`Invalid 'part_ids[${i}]': '${id}' is not a part of Upload '${upload.id}'.`, `part_ids[${i}]`, "invalid_value");
          if (seen.has(id)) throw invalidRequest(`Invalid 'part_ids[${i}]': '${id}' is listed more than once.`, `part_ids[${i}]`, "invalid_value");
          seen.add(id);
          return part;
        });
        const total = ordered.reduce((sum, p) => sum + p.bytes, 0);
        if (total !== upload.bytes) {
          throw invalidRequest(`The parts listed hold ${total} bytes, but the Upload was created with bytes=${upload.bytes}; the two must match.`, "part_ids", "upload_bytes_mismatch");
        }
        if (!(await uploads.beginCompleting(upload.id))) throw notPending((await uploads.get(upload.projectId, upload.id)) ?? upload);
        try {
          const hash = createHash("md5");
          const concatenated = async function* (): AsyncGenerator<Buffer> {
            for (const part of ordered) {
              for await (const chunk of (await uploads.readPart(upload.id, part.id)) as AsyncIterable<Buffer>) {
                hash.update(chunk);
                yield chunk;
              }
            }
          };
          const written = await files.writeBytes(concatenated(), maxBytes);
          let error: ApiError | undefined;
          if (written.bytes !== upload.bytes) error = invalidRequest(`The parts hold ${written.bytes} bytes, but the Upload was created with bytes=${upload.bytes}.`, "part_ids", "upload_bytes_mismatch");
          else if (md5 !== undefined && hash.digest("hex") !== md5) error = invalidRequest("The md5 checksum of the assembled parts does not match 'md5'.", "md5", "checksum_mismatch");
          if (error !== undefined) {
            await files.discard(written.id);
            throw error;
          }
          const createdAt = unixSeconds();
          const file = await files
            .insert({
              id: written.id,
              projectId: upload.projectId,
              createdAt,
              expiresAt: fileExpiresAt(createdAt, upload.purpose, upload.fileExpiresAfter),
              bytes: written.bytes,
              filename: upload.filename,
              purpose: upload.purpose,
              status: "processed",
            })
            .catch(async (insertError: unknown) => {
              await files.discard(written.id);
              throw insertError;
            });
          await uploads.complete(upload.id, file.id);
          sendJson(ctx.res, 200, renderUpload({ ...upload, status: "completed", fileId: file.id }, file));
        } catch (error) {
          await uploads.abandonCompleting(upload.id);
          throw error;
        }
      },
    },
    {
      method: "POST",
      pattern: "/v1/uploads/:upload_id/cancel",
      handler: async (ctx) => {
        const upload = await uploadOr404(uploads, ctx);
        if (!(await uploads.cancel(upload.projectId, upload.id))) throw notPending((await uploads.get(upload.projectId, upload.id)) ?? upload);
        sendJson(ctx.res, 200, renderUpload({ ...upload, status: "cancelled" }));
      },
    },
  ];
}

import type { IncomingMessage } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import { ApiError, invalidRequest, toApiError } from "../core/errors.ts";
import { refuseBody } from "./multipart.ts";

/** One uploaded file, held in memory (it is relayed to an upstream as is). */
export interface ImageFormFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** An image edit's or variation's form: text fields in order (repeats kept) and files in order. */
export interface ImageForm {
  fields: [string, string][];
  files: ImageFormFile[];
}

/** Limits on one form. */
export interface ImageFormLimits {
  /** Bytes of each file. */
  maxFileBytes: number;
  /** Bytes of the whole body. */
  maxBodyBytes: number;
  /** File parts (images and mask). */
  maxFiles: number;
}

/** A 413 naming the field whose file is too large. */
function tooLarge(field: string, limit: number): ApiError {
  return new ApiError(413, `The file in '${field}' is larger than the maximum of ${Math.round(limit / 1024 / 1024)} MB.`, { type: "invalid_request_error", param: field, code: "file_too_large" });
}

/**
 * Reads a `multipart/form-data` body with several files (an image edit's `image`/`image[]` and
 * `mask`) into memory, each file up to `maxFileBytes` and the body up to `maxBodyBytes`. Which
 * fields are allowed is judged afterwards (protocol/openai/images.ts); here only the form's shape
 * and size: a 400 for a body that is not a form, a 413 naming the field of a file too large.
 */
export async function readImageForm(req: IncomingMessage, limits: ImageFormLimits): Promise<ImageForm> {
  const contentType = req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    const got = contentType === "" ? "no Content-Type" : `Content-Type '${contentType.slice(0, 100)}'`;
    return refuseBody(req, invalidRequest(`This endpoint takes a multipart/form-data body with an 'image' file field, but the request has ${got}.`, "image", "invalid_content_type"));
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) return refuseBody(req, tooLarge("image", limits.maxBodyBytes));
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: "utf8",
      limits: { fileSize: limits.maxFileBytes, fieldNameSize: 200, fieldSize: 256 * 1024, fields: 32, files: limits.maxFiles, parts: 32 + limits.maxFiles },
    });
  } catch (error) {
    return refuseBody(req, invalidRequest(`The multipart/form-data body cannot be read: ${(error as Error).message}.`, "image", "invalid_content_type"));
  }
  const fields: [string, string][] = [];
  const files: ImageFormFile[] = [];
  let failure: ApiError | undefined;
  const fail = (error: unknown): void => {
    failure ??= toApiError(error);
  };
  parser.on("field", (name, value, info) => {
    if (info.valueTruncated) fail(invalidRequest(`Invalid '${name}': the value is too long.`, name, "string_above_max_length"));
    else fields.push([name, value]);
  });
  parser.on("file", (name, stream, info) => {
    // Kept in the order the parts came, whenever their bytes end.
    const entry: ImageFormFile = { field: name, filename: info.filename ?? "image", contentType: info.mimeType, bytes: Buffer.alloc(0) };
    files.push(entry);
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("limit", () => fail(tooLarge(name, limits.maxFileBytes)));
    stream.on("end", () => (entry.bytes = Buffer.concat(chunks)));
  });
  parser.on("filesLimit", () => fail(invalidRequest(`Too many files: at most ${limits.maxFiles} (images and mask).`, "image", "array_above_max_length")));
  parser.on("fieldsLimit", () => fail(invalidRequest("Too many form fields.", null, "invalid_value")));
  parser.on("partsLimit", () => fail(invalidRequest("Too many form parts.", null, "invalid_value")));

  let read = 0;
  let cutOff = false;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length;
      if (read > limits.maxBodyBytes) {
        cutOff = true;
        callback(tooLarge("image", limits.maxBodyBytes));
      } else callback(null, chunk);
    },
  });
  // Not pipeline(req, …): that would destroy the request, and its socket with it, before the error could be answered.
  const parsed = pipeline(counter, parser);
  req.on("error", (error) => counter.destroy(error));
  req.on("close", () => {
    if (!req.complete) counter.destroy(new Error("the client went away"));
  });
  req.pipe(counter);
  try {
    await parsed;
  } catch (error) {
    const problem = cutOff ? tooLarge("image", limits.maxBodyBytes) : invalidRequest(`The multipart/form-data body cannot be read: ${(error as Error).message}.`, null, "invalid_multipart");
    return req.complete ? Promise.reject(problem) : refuseBody(req, problem);
  }
  if (failure !== undefined) throw failure;
  return { fields, files };
}

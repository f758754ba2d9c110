import type { IncomingMessage } from "node:http";
import { PassThrough, Transform, type Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import busboy from "busboy";
import { ApiError, invalidRequest, toApiError } from "../core/errors.ts";
import { UnreadBodyError } from "./body.ts";

/** A body this small is read to its end before an error is answered, so the connection stays usable. */
const DRAIN_LIMIT = 1024 * 1024;
/** Room for the form's text fields, part headers and boundaries beyond the file's own bytes. */
const FORM_OVERHEAD = 1024 * 1024;

/** `error`, marked as leaving the request's body unread: the connection is closed after the answer. */
function unread(error: unknown): UnreadBodyError {
  const e = toApiError(error);
  return new UnreadBodyError(e.status, e.message, { type: e.type, code: e.code, param: e.param, headers: { ...e.headers } });
}

/**
 * Answers a request with `error` without using its body: a small body is read and dropped first (a
 * client still sending would otherwise see a broken connection, not the answer); a large one is left
 * unread and its connection closed.
 */
export async function refuseBody(req: IncomingMessage, error: ApiError): Promise<never> {
  const declared = Number(req.headers["content-length"]);
  if (req.readableEnded) throw error;
  if (Number.isFinite(declared) && declared <= DRAIN_LIMIT) {
    req.resume();
    try {
      await finished(req);
    } catch {
      // The client went away: nobody reads the answer.
    }
    throw error;
  }
  throw unread(error);
}

/** What a form's file part says about itself. */
export interface FilePartInfo {
  /** The part's `filename`, without any directory. */
  filename: string | undefined;
  mimeType: string;
}

/** How to read one multipart form: its text fields, and one file field whose bytes go to `store`. */
export interface MultipartSpec<T> {
  /** The field that carries the bytes (`file`, `data`); it is required. */
  fileField: string;
  /** The text fields the form may have; any other field is a 400 `unknown_parameter`. */
  textFields: readonly string[];
  /** The most file bytes `store` accepts: a body far beyond it is cut off with `tooLarge()`. */
  maxFileBytes: number;
  tooLarge: () => ApiError;
  /** Checks a text field as it arrives, so a bad one before the file spares storing the file. */
  checkField?: (name: string, value: string) => void;
  /** Consumes the file's bytes (to disk); may throw (a 413) after reading only part of them. */
  store(stream: Readable, info: FilePartInfo): Promise<T>;
  /** Undoes a `store` whose form turned out bad. */
  discard(stored: T): Promise<void>;
}

/** A form read to its end: its text fields and what `store` made of its file. */
export interface MultipartForm<T> {
  fields: Map<string, string>;
  file: T;
  info: FilePartInfo;
}

/**
 * Reads a `multipart/form-data` request body, streaming its file part into `spec.store` (never
 * holding it in memory) whether it comes before or after the text fields. Any failure is an
 * ApiError naming the field; a file already stored is discarded first. A body whose file goes over
 * the limit is read to its end (up to a margin) so the 413 reaches the client; beyond the margin the
 * connection is closed.
 */
export async function readMultipart<T>(req: IncomingMessage, spec: MultipartSpec<T>): Promise<MultipartForm<T>> {
  const contentType = req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    const got = contentType === "" ? "no Content-Type" : `Content-Type '${contentType.slice(0, 100)}'`;
    return refuseBody(req, invalidRequest(`This endpoint takes a multipart/form-data body with a '${spec.fileField}' file field, but the request has ${got}.`, spec.fileField, "invalid_content_type"));
  }
  const maxBody = spec.maxFileBytes + FORM_OVERHEAD;
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBody) throw unread(spec.tooLarge());

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: "utf8",
      limits: { fieldNameSize: 200, fieldSize: 64 * 1024, fields: 32, parts: 64 },
    });
  } catch (error) {
    return refuseBody(req, invalidRequest(`The multipart/form-data body cannot be read: ${(error as Error).message}.`, spec.fileField, "invalid_content_type"));
  }

  const fields = new Map<string, string>();
  let failure: ApiError | undefined;
  const fail = (error: unknown): void => {
    failure ??= toApiError(error);
  };
  let stored: Promise<T> | undefined;
  let info: FilePartInfo | undefined;
  let duplicate = false;

  parser.on("field", (name, value, fieldInfo) => {
    if (failure !== undefined) return;
    if (name === spec.fileField) {
      fail(invalidRequest(`'${name}' must be a file (a form part with a filename), not a text field.`, name, "invalid_type"));
    } else if (!spec.textFields.includes(name)) {
      fail(invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter"));
    } else if (fieldInfo.valueTruncated) {
      fail(invalidRequest(`Invalid '${name}': the value is too long.`, name, "string_above_max_length"));
    } else if (fields.has(name) && name.endsWith("[]")) {
      // How SDKs send an array: one `name[]` field per element, kept here comma-separated.
      fields.set(name, `${fields.get(name) ?? ""},${value}`);
    } else if (fields.has(name)) {
      fail(invalidRequest(`'${name}' is given more than once.`, name, "invalid_value"));
    } else {
      fields.set(name, value);
      try {
        spec.checkField?.(name, value);
      } catch (error) {
        fail(error);
      }
    }
  });
  parser.on("file", (name, stream, fileInfo) => {
    if (failure !== undefined || name !== spec.fileField || stored !== undefined) {
      if (failure === undefined && name !== spec.fileField) {
        fail(spec.textFields.includes(name) ? invalidRequest(`'${name}' must be a text field, not a file.`, name, "invalid_type") : invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter"));
      } else if (failure === undefined) {
        duplicate = true;
      }
      stream.on("error", () => undefined);
      stream.resume();
      return;
    }
    info = { filename: fileInfo.filename, mimeType: fileInfo.mimeType };
    // The store may stop reading early (a 413); the rest of the part is then read and dropped so the
    // form can be finished and answered.
    const through = new PassThrough();
    stream.pipe(through);
    through.on("close", () => {
      stream.unpipe(through);
      stream.resume();
    });
    stream.on("error", (error) => through.destroy(error));
    stream.on("close", () => {
      if (!stream.readableEnded) through.destroy(new Error("the file part ended early"));
    });
    stored = spec.store(through, info);
    stored.catch(fail);
  });

  let read = 0;
  let cutOff = false;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length;
      if (read > maxBody) {
        cutOff = true;
        callback(spec.tooLarge());
      } else {
        callback(null, chunk);
      }
    },
  });

  // Not pipeline(req, …): that would destroy the request, and its socket with it, before the error
  // could be answered.
  const parsed = pipeline(counter, parser);
  req.on("error", (error) => counter.destroy(error));
  req.on("close", () => {
    if (!req.complete) counter.destroy(new Error("the client went away"));
  });
  req.pipe(counter);
  let broken: unknown;
  try {
    await parsed;
  } catch (error) {
    broken = error;
  }
  let file: T | undefined;
  if (stored !== undefined) {
    try {
      file = await stored;
    } catch {
      // Recorded as the failure.
    }
  }
  const fileFailed = stored !== undefined && file === undefined;
  if (broken !== undefined) {
    if (file !== undefined) await spec.discard(file);
    if (cutOff) throw unread(failure ?? spec.tooLarge());
    const malformed = invalidRequest(`The multipart/form-data body cannot be read: ${(broken as Error).message}.`, null, "invalid_multipart");
    throw req.complete ? malformed : unread(malformed);
  }
  if (failure === undefined && duplicate) fail(invalidRequest(`'${spec.fileField}' is given more than once.`, spec.fileField, "invalid_value"));
  if (failure === undefined && (stored === undefined || info === undefined)) {
    fail(invalidRequest(`Missing required parameter: '${spec.fileField}'.`, spec.fileField, "missing_required_parameter"));
  }
  if (failure !== undefined || fileFailed || file === undefined || info === undefined) {
    if (file !== undefined) await spec.discard(file);
    throw failure ?? invalidRequest(`Missing required parameter: '${spec.fileField}'.`, spec.fileField, "missing_required_parameter");
  }
  return { fields, file, info };
}

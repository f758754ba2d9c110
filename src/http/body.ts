import type { IncomingMessage } from "node:http";
import { ApiError, invalidRequest } from "../core/errors.ts";

/** 413 for a body over the configured limit. */
function tooLarge(limit: number): ApiError {
  return new ApiError(413, `Request body too large: the limit is ${limit} bytes.`, {
    type: "invalid_request_error",
    code: "request_too_large",
  });
}

/** Strict UTF-8; one instance serves every request, since a decode that is not streamed starts afresh. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Thrown with the partly read body still on the socket, so the connection must not be reused. */
export class UnreadBodyError extends ApiError {}

/**
 * Reads and parses a JSON request body. Rejects bodies over `limit` bytes (by Content-Length at
 * once, or while reading), bytes that are not valid UTF-8, and text that is not JSON.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    const e = tooLarge(limit);
    throw new UnreadBodyError(e.status, e.message, { type: e.type, code: e.code });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      const e = tooLarge(limit);
      throw new UnreadBodyError(e.status, e.message, { type: e.type, code: e.code });
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks, size);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidRequest("The request body is not valid UTF-8.", null, "invalid_encoding");
  }
  if (text.trim() === "") throw invalidRequest("The request body is empty; a JSON object was expected.", null, "invalid_json");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidRequest(`We could not parse the JSON body of your request: ${(error as Error).message}.`, null, "invalid_json");
  }
}

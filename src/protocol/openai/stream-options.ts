import { invalidRequest } from "../../core/errors.ts";
import type { FieldReader } from "./validate.ts";

/** What `stream_options` asks of a stream. */
export interface StreamOptions {
  /** A final chunk with the request's usage (chat and completions). */
  includeUsage: boolean;
  /** Random `obfuscation` padding on each chunk or event (OpenAI's default: on). */
  includeObfuscation: boolean;
}

/**
 * Reads `stream_options`, which OpenAI allows only with `stream: true`. `usage` says whether the
 * endpoint has `include_usage` (Responses has only `include_obfuscation`).
 */
export function readStreamOptions(reader: FieldReader, stream: boolean, usage: boolean): StreamOptions {
  const options = reader.object("stream_options");
  if (options === undefined) return { includeUsage: false, includeObfuscation: true };
  if (!stream) throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
  options.rejectUnknown(new Set(usage ? ["include_usage", "include_obfuscation"] : ["include_obfuscation"]));
  return { includeUsage: usage ? (options.boolean("include_usage") ?? false) : false, includeObfuscation: options.boolean("include_obfuscation") ?? true };
}

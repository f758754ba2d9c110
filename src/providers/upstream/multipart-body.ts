import { randomBytes } from "node:crypto";

/** A multipart/form-data body and its Content-Type (with the boundary). */
export interface MultipartBody {
  contentType: string;
  bytes: Buffer;
}

/** Quotes a name for a Content-Disposition header: quotes, backslashes and line breaks escaped as browsers do. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A")}"`;
}

/** A file part to encode. */
export interface MultipartFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

/**
 * Encodes text fields and one or more files (in order) as multipart/form-data (RFC 7578), for
 * relaying an upload to an upstream. The boundary is random, so it cannot occur in the fields by accident.
 */
export function encodeMultipart(fields: readonly (readonly [string, string])[], files: MultipartFile | readonly MultipartFile[]): MultipartBody {
  const boundary = `----modelport${randomBytes(16).toString("hex")}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of fields) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}\r\n\r\n${value}\r\n`, "utf8"));
  }
  const list: readonly MultipartFile[] = "field" in files ? [files] : files;
  for (const file of list) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name=${quoted(file.field)}; filename=${quoted(file.filename)}\r\nContent-Type: ${file.contentType}\r\n\r\n`, "utf8"),
      Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength),
      Buffer.from("\r\n", "utf8"),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, "utf8"));
  return { contentType: `multipart/form-data; boundary=${boundary}`, bytes: Buffer.concat(chunks) };
}

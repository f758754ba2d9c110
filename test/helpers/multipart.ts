import { randomBytes } from "node:crypto";

/** One form part: a text field, or a file with a name. */
export type FormPart = { name: string; value: string } | { name: string; filename: string; data: Uint8Array; type?: string };

/** A multipart/form-data body built by hand, parts in the order given (FormData may reorder nothing, but this states it). */
export function multipartBody(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
  const boundary = `----modelport${randomBytes(8).toString("hex")}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if ("value" in p) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`));
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.type ?? "application/octet-stream"}\r\n\r\n`));
      chunks.push(Buffer.from(p.data));
      chunks.push(Buffer.from("\r\n"));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The parts around one streamed file field, for bodies too large to build in memory. */
export function multipartFrame(fields: Record<string, string>, file: { name: string; filename: string }): { head: Buffer; tail: Buffer; contentType: string } {
  const boundary = `----modelport${randomBytes(8).toString("hex")}`;
  let head = "";
  for (const [name, value] of Object.entries(fields)) head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return { head: Buffer.from(head), tail: Buffer.from(`\r\n--${boundary}--\r\n`), contentType: `multipart/form-data; boundary=${boundary}` };
}

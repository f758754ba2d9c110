/**
 * Server-sent events framing. Every frame this module returns is well formed: data is split on
 * line breaks into several `data:` lines, and `event` / `id` values cannot smuggle in a line break.
 */

/** Encodes one SSE frame. */
export function encodeSseFrame(data: string, event?: string): string {
  let frame = "";
  if (event !== undefined) {
    if (/[\r\n]/.test(event)) throw new Error("SSE event names cannot contain line breaks");
    frame += `event: ${event}\n`;
  }
  // JSON text never holds a raw line break, so the per-token path skips the split.
  if (!data.includes("\n") && !data.includes("\r")) return `${frame}data: ${data}\n\n`;
  for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/** Encodes a JSON value as one SSE data frame. */
export function encodeSseJson(value: unknown, event?: string): string {
  return encodeSseFrame(JSON.stringify(value), event);
}

/** The terminator OpenAI sends after the last chunk of a chat completion stream. */
export const SSE_DONE = "data: [DONE]\n\n";

import type { ServerResponse } from "node:http";
import { toApiError } from "../core/errors.ts";

/** The JSON body each response was sent with, for the request log's answer capture. */
const sentBodies = new WeakMap<ServerResponse, unknown>();

/** The JSON `res` was answered with by `sendJson`, or undefined (a stream, relayed bytes). */
export function sentJsonBody(res: ServerResponse): unknown {
  return sentBodies.get(res);
}

/** Sends a JSON body with the given status. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sentBodies.set(res, body);
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** The one error mapper: any thrown value becomes OpenAI's error envelope with its status. */
export function sendError(res: ServerResponse, error: unknown): number {
  const apiError = toApiError(error);
  sendJson(res, apiError.status, apiError.toJSON(), { ...apiError.headers });
  return apiError.status;
}

/**
 * Writes, and waits for the socket to drain only when Node's buffer is full; false once the client
 * is gone. Synchronous in the common case, since it runs once per streamed token.
 */
export function writeWithBackpressure(res: ServerResponse, text: string | Uint8Array): boolean | Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(text)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => () => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

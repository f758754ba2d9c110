import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { encodeSseJson } from "../../../core/sse.ts";
import { ApiError } from "../../../core/errors.ts";
import { SseUsageScanner, usageOfJson } from "../../../core/openai-usage.ts";
import type { ForwardedResponse, ForwardForm } from "../../../providers/provider.ts";
import type { EndpointCall } from "../../../services/endpoints/endpoint.ts";
import {
  MAX_AUDIO_UPLOAD_BYTES,
  parseSpeechRequest,
  parseTranscriptionFields,
  renderSpeechDelta,
  renderSpeechDone,
  renderTranscript,
  renderTranscriptEvents,
  SPEECH_CONTENT_TYPES,
  TRANSCRIPTION_FIELDS,
  TRANSLATION_FIELDS,
} from "../../../protocol/openai/audio.ts";
import type { AudioService } from "../../../services/audio-service.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { logUsage, modelCall } from "../../model-call.ts";
import { readMultipart, type FilePartInfo } from "../../multipart.ts";
import { sendJson, writeWithBackpressure } from "../../respond.ts";
import type { Handler, RequestContext, Route } from "../../router.ts";
import { openEventStream } from "../../sse-writer.ts";

/** The 413 for an upload over OpenAI's 25 MB. */
function audioTooLarge(): ApiError {
  return new ApiError(413, `The audio file is larger than the maximum of ${MAX_AUDIO_UPLOAD_BYTES / 1024 / 1024} MB.`, { type: "invalid_request_error", param: "file", code: "file_too_large" });
}

/** An upload in a private scratch directory, with what its part said about it. */
interface Upload {
  dir: string;
  path: string;
  info: FilePartInfo;
}

/** Streams a form's file into a scratch directory, stopping with a 413 past the limit. */
async function storeUpload(stream: Readable, info: FilePartInfo): Promise<Upload> {
  const dir = await mkdtemp(join(tmpdir(), "modelport-audio-"));
  const path = join(dir, "upload");
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(bytes > MAX_AUDIO_UPLOAD_BYTES ? audioTooLarge() : null, chunk);
    },
  });
  try {
    await pipeline(stream, limit, createWriteStream(path));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, path, info };
}

/**
 * Sends an upstream's answer as it arrives, metering the usage it reports: a whole JSON answer's
 * `usage`, or the last `usage` in a stream's events. A speech answer's bytes are audio.
 */
async function sendRelayed(ctx: RequestContext, call: EndpointCall, answer: ForwardedResponse, meter: boolean): Promise<void> {
  ctx.log.deployment = answer.deployment;
  ctx.res.writeHead(answer.status, { "content-type": answer.contentType, ...(Array.isArray(answer.body) ? {} : { "cache-control": "no-cache", "x-accel-buffering": "no" }) });
  const scanner = new SseUsageScanner();
  const whole: Buffer[] = [];
  try {
    for await (const chunk of answer.body) {
      if (meter) {
        if (Array.isArray(answer.body)) whole.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        else scanner.push(chunk);
      }
      if (ctx.res.destroyed) return;
      const written = writeWithBackpressure(ctx.res, chunk);
      if (written !== true && (await written) === false) return;
    }
  } catch {
    // The upstream broke off: the status line is gone, so the answer just ends short.
  } finally {
    const usage = Array.isArray(answer.body) ? usageOfJson(Buffer.concat(whole).toString("utf8")) : scanner.usage;
    if (meter && usage !== undefined) call.usage(usage);
    ctx.res.end();
  }
}

/** `POST /v1/audio/speech`: audio bytes as they are encoded, or `speech.audio.*` events. */
function speechHandler(service: AudioService, gate: RequestGate): Handler {
  return async (ctx) => {
    const body = await ctx.readJson();
    const name = typeof body === "object" && body !== null ? (body as { model?: unknown }).model : undefined;
    const upstream = service.relayFor(name, "/audio/speech");
    if (upstream !== undefined && typeof name === "string") {
      ctx.log.model = name;
      const call = modelCall(ctx, gate);
      await sendRelayed(ctx, call, await service.relay(call, upstream, name, "/audio/speech", body as Record<string, unknown>), false);
      logUsage(ctx);
      return;
    }
    const request = parseSpeechRequest(body);
    ctx.log.model = request.model;
    ctx.log.stream = request.streamFormat === "sse";
    const speech = await service.speech(modelCall(ctx, gate), request);
    if (request.streamFormat === "sse") {
      const events = openEventStream(ctx.res);
      for await (const bytes of speech.bytes) if ((await events.write(encodeSseJson(renderSpeechDelta(bytes)))) === false) return;
      await events.write(encodeSseJson(renderSpeechDone(speech.characters, 0)));
      await events.end();
    } else {
      ctx.res.writeHead(200, { "content-type": SPEECH_CONTENT_TYPES[request.format] });
      for await (const bytes of speech.bytes) {
        if (ctx.res.destroyed) return;
        const written = writeWithBackpressure(ctx.res, bytes);
        if (written !== true && (await written) === false) return;
      }
      ctx.res.end();
    }
    logUsage(ctx);
  };
}

/** `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart). */
function transcriptionHandler(service: AudioService, gate: RequestGate, task: "transcription" | "translation"): Handler {
  return async (ctx: RequestContext) => {
    const form = await readMultipart(ctx.req, {
      fileField: "file",
      textFields: task === "transcription" ? TRANSCRIPTION_FIELDS : TRANSLATION_FIELDS,
      maxFileBytes: MAX_AUDIO_UPLOAD_BYTES,
      tooLarge: audioTooLarge,
      store: storeUpload,
      discard: (upload) => rm(upload.dir, { recursive: true, force: true }),
    });
    try {
      const name = form.fields.get("model");
      const endpoint = task === "translation" ? "/audio/translations" : "/audio/transcriptions";
      const upstream = service.relayFor(name, endpoint);
      if (upstream !== undefined && name !== undefined) {
        ctx.log.model = name;
        const call = modelCall(ctx, gate);
        const forwarded: ForwardForm = {
          kind: "form",
          // Arrays came as repeated `name[]` fields, kept here as one comma-separated value.
          fields: [...form.fields].flatMap(([field, value]) => (field.endsWith("[]") ? value.split(",").map((v): [string, string] => [field, v]) : [[field, value] as [string, string]])),
          file: { field: "file", filename: form.file.info.filename ?? "audio", contentType: form.file.info.mimeType, bytes: await readFile(form.file.path) },
        };
        await sendRelayed(ctx, call, await service.relay(call, upstream, name, endpoint, forwarded), true);
        logUsage(ctx);
        return;
      }
      const options = parseTranscriptionFields(form.fields, task);
      ctx.log.model = options.model;
      ctx.log.stream = options.stream;
      const { transcript, seconds } = await service.transcribe(modelCall(ctx, gate), form.file.path, options, task);
      ctx.log.audio_seconds = Number(seconds.toFixed(2));
      if (options.stream) {
        const events = openEventStream(ctx.res);
        for (const event of renderTranscriptEvents(transcript)) await events.write(encodeSseJson(event));
        await events.end();
      } else {
        const rendered = renderTranscript(transcript, options, task);
        if ("json" in rendered) sendJson(ctx.res, 200, rendered.json);
        else {
          ctx.res.writeHead(200, { "content-type": rendered.contentType, "content-length": Buffer.byteLength(rendered.text) });
          ctx.res.end(rendered.text);
        }
      }
      logUsage(ctx);
    } finally {
      await rm(form.file.dir, { recursive: true, force: true });
    }
  };
}

/** The audio routes. */
export function audioRoutes(deps: { service: AudioService; gate: RequestGate }): Route[] {
  return [
    { method: "POST", pattern: "/v1/audio/speech", handler: speechHandler(deps.service, deps.gate) },
    { method: "POST", pattern: "/v1/audio/transcriptions", handler: transcriptionHandler(deps.service, deps.gate, "transcription") },
    { method: "POST", pattern: "/v1/audio/translations", handler: transcriptionHandler(deps.service, deps.gate, "translation") },
  ];
}

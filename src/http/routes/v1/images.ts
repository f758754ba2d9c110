import { ApiError } from "../../../core/errors.ts";
import { encodeSseJson } from "../../../core/sse.ts";
import type { ForwardForm } from "../../../providers/provider.ts";
import { ImageStreamScanner, MAX_EDIT_IMAGES, MAX_IMAGE_UPLOAD_BYTES, parseImageForm, parseImageGenerationRequest, readImagesResponse } from "../../../protocol/openai/images.ts";
import type { EndpointCall } from "../../../services/endpoints/endpoint.ts";
import type { ImageService, ImagesMade, StartedImages } from "../../../services/image-service.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { readImageForm } from "../../image-form.ts";
import { logUsage, modelCall } from "../../model-call.ts";
import { writeWithBackpressure } from "../../respond.ts";
import type { Handler, RequestContext, Route } from "../../router.ts";

/** The most bytes one edit or variation form may have, all its images and mask together. */
export const MAX_IMAGE_FORM_BYTES = 64 * 1024 * 1024;

/** Nothing made: an answer that was not an `ImagesResponse`, or a stream that ended before an image. */
const NOTHING: ImagesMade = { images: 0, size: undefined, quality: undefined, usage: undefined };

/**
 * Sends an upstream's answer to an image request as it arrives (a stream's `partial_image` and
 * `completed` events unchanged) and meters the images it made: those of a whole `ImagesResponse`,
 * or one per completed event.
 */
async function sendImages(ctx: RequestContext, call: EndpointCall, service: ImageService, started: StartedImages): Promise<void> {
  const { answer } = started;
  ctx.log.deployment = answer.deployment;
  if (Array.isArray(answer.body)) {
    const bytes = Buffer.concat(answer.body.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
    call.usage(service.usageOf(started, readImagesResponse(bytes.toString("utf8")) ?? NOTHING));
    ctx.res.writeHead(answer.status, { "content-type": answer.contentType, "content-length": bytes.byteLength });
    ctx.res.end(bytes);
    return;
  }
  ctx.res.writeHead(answer.status, { "content-type": answer.contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
  const scanner = new ImageStreamScanner();
  try {
    for await (const chunk of answer.body) {
      scanner.push(chunk);
      if (ctx.res.destroyed) return;
      const written = writeWithBackpressure(ctx.res, chunk);
      if (written !== true && (await written) === false) return;
    }
  } catch {
    // The upstream broke off mid-stream: OpenAI's clients read an error object in a data frame.
    const error = new ApiError(502, `The upstream of '${started.model.descriptor.id}' failed mid-stream.`, { type: "server_error", code: "upstream_error" });
    if (!ctx.res.destroyed) ctx.res.write(`\n\n${encodeSseJson(error.toJSON(), "error")}`);
  } finally {
    scanner.end();
    call.usage(service.usageOf(started, scanner));
    ctx.res.end();
  }
}

/** `POST /v1/images/generations` (JSON): validated, then relayed to the model's upstream. */
function generationsHandler(service: ImageService, gate: RequestGate): Handler {
  return async (ctx) => {
    const body = await ctx.readJson();
    const request = parseImageGenerationRequest(body);
    ctx.log.model = request.model;
    ctx.log.stream = request.stream;
    const call = modelCall(ctx, gate);
    // Parsed as an object above; a request that named no model gets the spec's default by name.
    const forwarded = { ...(body as Record<string, unknown>), model: request.model };
    await sendImages(ctx, call, service, await service.start(call, request, forwarded));
    logUsage(ctx);
  };
}

/** `POST /v1/images/edits` and `/v1/images/variations` (multipart): the images (and mask) relayed byte for byte. */
function formHandler(service: ImageService, gate: RequestGate, endpoint: "/images/edits" | "/images/variations"): Handler {
  return async (ctx) => {
    const form = await readImageForm(ctx.req, { maxFileBytes: MAX_IMAGE_UPLOAD_BYTES, maxBodyBytes: MAX_IMAGE_FORM_BYTES, maxFiles: MAX_EDIT_IMAGES + 1 });
    const request = parseImageForm(endpoint, form.fields, form.files.map((f) => f.field));
    ctx.log.model = request.model;
    ctx.log.stream = request.stream;
    const call = modelCall(ctx, gate);
    const [first, ...rest] = form.files;
    // parseImageForm checked there is an image.
    if (first === undefined) return;
    const forwarded: ForwardForm = {
      kind: "form",
      fields: request.modelGiven ? form.fields : [...form.fields, ["model", request.model]],
      file: first,
      moreFiles: rest,
    };
    await sendImages(ctx, call, service, await service.start(call, request, forwarded));
    logUsage(ctx);
  };
}

/** The Images API routes. */
export function imageRoutes(deps: { service: ImageService; gate: RequestGate }): Route[] {
  return [
    { method: "POST", pattern: "/v1/images/generations", handler: generationsHandler(deps.service, deps.gate) },
    { method: "POST", pattern: "/v1/images/edits", handler: formHandler(deps.service, deps.gate, "/images/edits") },
    { method: "POST", pattern: "/v1/images/variations", handler: formHandler(deps.service, deps.gate, "/images/variations") },
  ];
}

import { countTokens } from "gpt-tokenizer";
import type { Usage } from "../core/chat.ts";
import { ApiError } from "../core/errors.ts";
import { imageFamily, imagePrice, pricedAs, type ImageFamily } from "../core/image-pricing.ts";
import { unsupportedEndpoint, type ChatModel, type ForwardBody, type ForwardedResponse } from "../providers/provider.ts";
import { parseImageGenerationRequest, readImageStreamEvent, readImagesResponse, type ImageEndpoint, type ImageRequest, type ImagesOutcome } from "../protocol/openai/images.ts";
import { SseDataDecoder } from "../core/sse-reader.ts";
import type { Principal } from "./access.ts";
import type { EndpointCall } from "./endpoints/endpoint.ts";
import { relays } from "./endpoints/relay.ts";
import type { ModelRegistry } from "./model-registry.ts";
import type { RequestGate } from "./request-gate.ts";
import type { UsageMeter } from "./usage-meter.ts";

/** An image request relayed, its upstream having answered (for a stream: sent its status line). */
export interface StartedImages {
  model: ChatModel;
  request: ImageRequest;
  answer: ForwardedResponse;
}

/** What the images of a finished request were, as the answer or its stream said. */
export type ImagesMade = Pick<ImagesOutcome, "images" | "size" | "quality" | "usage">;

/** How to make one image for a tool (the Responses API's `image_generation`); as `CreateImageRequest`'s fields. */
export interface ImageGenerationParams {
  prompt: string;
  size?: string | undefined;
  quality?: string | undefined;
  background?: string | undefined;
  outputFormat?: string | undefined;
  outputCompression?: number | undefined;
  moderation?: string | undefined;
  user?: string | undefined;
  /** Partial images to ask for (0–3): the upstream streams them, and each goes to `onPartial` as it comes. */
  partialImages?: number | undefined;
  onPartial?: ((b64: string, index: number) => void) | undefined;
}

/** One image made for a tool: base64 bytes and what the upstream made (its `auto` choices resolved where it says). */
export interface GeneratedImage {
  b64: string;
  size: string;
  quality: string;
  background: string;
  outputFormat: string;
  revisedPrompt?: string;
  /** What it used, as metered (tokens where the upstream reports them, the image, its cost). */
  usage: Usage;
}

/** The request path an image endpoint is metered under. */
const METERED_PATHS: Readonly<Record<ImageEndpoint, string>> = {
  "/images/generations": "/v1/images/generations",
  "/images/edits": "/v1/images/edits",
  "/images/variations": "/v1/images/variations",
};

/**
 * The Images API, free of HTTP: resolves the named model, checks its deployments relay the endpoint
 * (local models and chat-only upstreams cannot make images), admits the request and relays it with
 * the retries, breaker and deadline of every relay; prices what was made per image from OpenAI's
 * published prices (`core/image-pricing.ts`).
 */
export class ImageService {
  readonly #registry: ModelRegistry;
  readonly #gate: RequestGate;
  readonly #meter: UsageMeter;

  constructor(deps: { registry: ModelRegistry; gate: RequestGate; meter: UsageMeter }) {
    this.#registry = deps.registry;
    this.#gate = deps.gate;
    this.#meter = deps.meter;
  }

  /** The model that serves `request`: a 404 `model_not_found`, or a 400 `unsupported_endpoint` naming `model`. */
  model(request: Pick<ImageRequest, "model" | "endpoint">): ChatModel {
    const model = this.#registry.resolve(request.model);
    if (!relays(model, request.endpoint)) {
      throw unsupportedEndpoint(model.descriptor.id, request.endpoint, "(it cannot make images: only upstream models whose deployments serve the Images API can)");
    }
    return model;
  }

  /** Resolves, admits and relays `body` (JSON, or a form with the images); a stream's body is left for the caller. */
  async start(call: EndpointCall, request: ImageRequest, body: ForwardBody): Promise<StartedImages> {
    const model = this.model(request);
    await call.admit(request.model, model, estimate(request.prompt));
    call.served(model);
    return { model, request, answer: await model.forward(request.endpoint, body, call.signal) };
  }

  /**
   * The usage of a relayed request once its images are known: the tokens the upstream reported,
   * the number of images and their size, and their cost at OpenAI's per-image price for the
   * serving model's family (token prices configured for the model do not apply then).
   */
  usageOf(started: StartedImages, made: ImagesMade): Usage {
    const family = familyOf(started.model, started.request.model, started.answer.model);
    return imageUsage(family, made, started.request.size, started.request.quality);
  }

  /**
   * Generates one image with `model` for a tool, as `POST /v1/images/generations` would (not
   * streamed, base64): admitted against the project's budget and limits for `model` and metered as
   * its own `/v1/images/generations` usage record. `response_format` is sent only to a model whose
   * name (public, or an alias) is a DALL·E one. Bad params are 400s naming them; a model that
   * cannot make images a 400 naming `model`; an upstream that answers only a URL a 502.
   */
  async generate(principal: Principal, model: string, params: ImageGenerationParams, signal: AbortSignal): Promise<GeneratedImage> {
    const startedAt = performance.now();
    const body: Record<string, unknown> = {
      prompt: params.prompt,
      model,
      n: 1,
      ...(params.size !== undefined ? { size: params.size } : {}),
      ...(params.quality !== undefined ? { quality: params.quality } : {}),
      ...(params.background !== undefined ? { background: params.background } : {}),
      ...(params.outputFormat !== undefined ? { output_format: params.outputFormat } : {}),
      ...(params.outputCompression !== undefined ? { output_compression: params.outputCompression } : {}),
      ...(params.moderation !== undefined ? { moderation: params.moderation } : {}),
      ...(params.user !== undefined ? { user: params.user } : {}),
    };
    const partials = params.partialImages ?? 0;
    const request = parseImageGenerationRequest(body);
    const served = this.model(request);
    // GPT Image (what the tool is for) always answers base64 and rejects `response_format`; a model
    // known by name to be DALL·E is asked for base64.
    if (familyOf(served, model, undefined)?.startsWith("dall-e") === true) body.response_format = "b64_json";
    // Partial images come only in a stream (GPT Image).
    if (partials > 0) Object.assign(body, { stream: true, partial_images: partials });
    const admission = await this.#gate.admit(principal, model, served, estimate(request.prompt));
    let usage: Usage | undefined;
    try {
      const answer = await served.forward(request.endpoint, body, signal);
      let outcome: ImagesOutcome | undefined;
      if (partials > 0) {
        const events = new SseDataDecoder();
        const read = (data: string): void => {
          const event = readImageStreamEvent(data);
          if (event?.kind === "partial") params.onPartial?.(event.b64, event.index);
          if (event?.kind === "completed") outcome = event.outcome;
        };
        for await (const c of answer.body) for (const data of events.push(c)) read(data);
        for (const data of events.end()) read(data);
      } else {
        const chunks: Buffer[] = [];
        for await (const c of answer.body) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
        outcome = readImagesResponse(Buffer.concat(chunks).toString("utf8"));
      }
      usage = imageUsage(familyOf(served, model, answer.model), outcome ?? { images: 0, size: undefined, quality: undefined, usage: undefined }, request.size, request.quality);
      this.#meter.record({ principal, model: served.descriptor.id, endpoint: METERED_PATHS[request.endpoint], usage, latencyMs: performance.now() - startedAt, status: 200, batch: false, pricing: served.descriptor.pricing });
      const b64 = outcome?.first?.b64;
      if (outcome === undefined || b64 === undefined) {
        throw new ApiError(502, `The upstream of '${served.descriptor.id}' answered without a base64 image.`, { type: "server_error", code: "upstream_error" });
      }
      return {
        b64,
        size: outcome.size ?? params.size ?? "auto",
        quality: outcome.quality ?? params.quality ?? "auto",
        background: outcome.background ?? params.background ?? "auto",
        outputFormat: outcome.outputFormat ?? params.outputFormat ?? "png",
        ...(outcome.first?.revisedPrompt !== undefined ? { revisedPrompt: outcome.first.revisedPrompt } : {}),
        usage,
      };
    } finally {
      await admission.finish(usage);
    }
  }
}

/** Tokens an image request may use against TPM: its prompt's (the images themselves are counted once made). */
function estimate(prompt: string | undefined): number {
  return prompt === undefined ? 0 : countTokens(prompt);
}

/**
 * The priced family of the model serving a request: the deployment's own model name where the
 * answer says it, else the public name, the name asked for, or an alias that is an OpenAI image model.
 */
function familyOf(model: ChatModel, requested: string, upstream: string | undefined): ImageFamily | undefined {
  for (const name of [upstream, model.descriptor.id, requested, ...model.descriptor.aliases]) {
    const family = name === undefined ? undefined : imageFamily(name);
    if (family !== undefined) return family;
  }
  return undefined;
}

/** The usage of `made`: tokens, images, their size and (for a priced family) their cost. */
function imageUsage(family: ImageFamily | undefined, made: ImagesMade, requestedSize: string | undefined, requestedQuality: string | undefined): Usage {
  const size = made.size ?? requestedSize;
  const quality = made.quality ?? requestedQuality;
  const tokens = made.usage;
  const usage: Usage = { promptTokens: tokens?.promptTokens ?? 0, completionTokens: tokens?.completionTokens ?? 0, cachedTokens: tokens?.cachedTokens ?? 0, reasoningTokens: 0, images: made.images };
  if (family === undefined) {
    if (size !== undefined) usage.imageSize = size;
    return usage;
  }
  usage.imageSize = pricedAs(family, size, quality).size;
  usage.costUsd = made.images * (imagePrice(family, size, quality) ?? 0);
  return usage;
}

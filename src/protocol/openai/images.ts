import type { Usage } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";
import { canonicalUsage } from "../../core/openai-usage.ts";
import { SseDataDecoder } from "../../core/sse-reader.ts";
import { FieldReader, invalidValue } from "./validate.ts";

/** The Images API's endpoints. */
export type ImageEndpoint = "/images/generations" | "/images/edits" | "/images/variations";

/** The model each endpoint uses when a request names none, as OpenAI's spec says. */
export const DEFAULT_IMAGE_MODELS: Readonly<Record<ImageEndpoint, string>> = {
  "/images/generations": "dall-e-2",
  "/images/edits": "gpt-image-1.5",
  "/images/variations": "dall-e-2",
};

/** The longest prompt accepted (GPT Image's limit; DALL·E's shorter ones are the upstream's to enforce). */
export const MAX_IMAGE_PROMPT = 32_000;
/** OpenAI's limit on the images of one edit. */
export const MAX_EDIT_IMAGES = 16;
/** OpenAI's limit on each uploaded image (GPT Image; DALL·E takes 4 MB). */
export const MAX_IMAGE_UPLOAD_BYTES = 50 * 1024 * 1024;

const QUALITIES = ["standard", "hd", "low", "medium", "high", "auto"] as const;
const EDIT_QUALITIES = ["standard", "low", "medium", "high", "auto"] as const;
const RESPONSE_FORMATS = ["url", "b64_json"] as const;
const OUTPUT_FORMATS = ["png", "jpeg", "webp"] as const;
const BACKGROUNDS = ["transparent", "opaque", "auto"] as const;
const MODERATIONS = ["low", "auto"] as const;
const STYLES = ["vivid", "natural"] as const;
const FIDELITIES = ["high", "low"] as const;
const GENERATION_SIZES = ["auto", "1024x1024", "1536x1024", "1024x1536", "256x256", "512x512", "1792x1024", "1024x1792"] as const;
const EDIT_SIZES = ["256x256", "512x512", "1024x1024", "1536x1024", "1024x1536", "auto"] as const;
const VARIATION_SIZES = ["256x256", "512x512", "1024x1024"] as const;

const GENERATION_FIELDS: ReadonlySet<string> = new Set([
  "prompt", "model", "n", "size", "quality", "response_format", "output_format", "output_compression", "background", "moderation", "style", "partial_images", "stream", "user",
]);
const EDIT_FIELDS: ReadonlySet<string> = new Set([
  "prompt", "model", "n", "size", "quality", "response_format", "output_format", "output_compression", "background", "input_fidelity", "partial_images", "stream", "user",
]);
const VARIATION_FIELDS: ReadonlySet<string> = new Set(["model", "n", "size", "response_format", "user"]);

/** The text fields an edit or variation form may have (arrays come as `name[]`), for the multipart reader. */
export function imageFormTextFields(endpoint: "/images/edits" | "/images/variations"): ReadonlySet<string> {
  return endpoint === "/images/edits" ? EDIT_FIELDS : VARIATION_FIELDS;
}

/** What the server needs of a validated image request: its model, and what it is priced and metered by. */
export interface ImageRequest {
  endpoint: ImageEndpoint;
  /** The model named, or the endpoint's default when none was. */
  model: string;
  /** Whether the request named its model (if not, the default is added before relaying). */
  modelGiven: boolean;
  prompt: string | undefined;
  n: number;
  size: string | undefined;
  quality: string | undefined;
  stream: boolean;
}

/** A size: one of the spec's, or any `WIDTHxHEIGHT` (newer models take more sizes; the upstream judges). */
function checkSize(param: string, value: string, allowed: readonly string[], free: boolean): string {
  if (allowed.includes(value) || (free && /^[1-9]\d{1,4}x[1-9]\d{1,4}$/.test(value))) return value;
  throw free
    ? invalidRequest(`Invalid value: '${value.slice(0, 100)}'. Supported values are: ${allowed.map((s) => `'${s}'`).join(", ")}, or another size as WIDTHxHEIGHT.`, param, "invalid_value")
    : invalidValue(param, value.slice(0, 100), allowed);
}

/** Validates a `CreateImageRequest` body (`POST /v1/images/generations`); every problem is a 400 naming the param. */
export function parseImageGenerationRequest(body: unknown): ImageRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(GENERATION_FIELDS);
  const prompt = reader.string("prompt", { required: true, nonEmpty: true, maxLength: MAX_IMAGE_PROMPT });
  const model = reader.string("model", { nonEmpty: true });
  const n = reader.number("n", { integer: true, min: 1, max: 10 }) ?? 1;
  const rawSize = reader.string("size");
  const size = rawSize === undefined ? undefined : checkSize("size", rawSize, GENERATION_SIZES, true);
  const quality = reader.enumeration("quality", QUALITIES);
  reader.enumeration("response_format", RESPONSE_FORMATS);
  reader.enumeration("output_format", OUTPUT_FORMATS);
  reader.number("output_compression", { integer: true, min: 0, max: 100 });
  reader.enumeration("background", BACKGROUNDS);
  reader.enumeration("moderation", MODERATIONS);
  reader.enumeration("style", STYLES);
  reader.number("partial_images", { integer: true, min: 0, max: 3 });
  const stream = reader.boolean("stream") ?? false;
  reader.string("user", { maxLength: 256 });
  return { endpoint: "/images/generations", model: model ?? DEFAULT_IMAGE_MODELS["/images/generations"], modelGiven: model !== undefined, prompt, n, size, quality, stream };
}

/** An integer form field, or a 400 naming it. */
function formInteger(param: string, value: string, min: number, max: number): number {
  if (!/^-?\d{1,9}$/.test(value.trim())) {
    throw invalidRequest(`Invalid type for '${param}': expected an integer, but got '${value.slice(0, 100)}' instead.`, param, "invalid_type");
  }
  const n = Number(value.trim());
  if (n < min) throw invalidRequest(`Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${n} instead.`, param, "integer_below_min_value");
  if (n > max) throw invalidRequest(`Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${n} instead.`, param, "integer_above_max_value");
  return n;
}

/** A boolean form field (`true` or `false`), or a 400 naming it. */
function formBoolean(param: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalidRequest(`Invalid type for '${param}': expected a boolean ('true' or 'false'), but got '${value.slice(0, 100)}' instead.`, param, "invalid_type");
}

/** An enumerated form field, or a 400 naming it. */
function formEnum(param: string, value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw invalidValue(param, value.slice(0, 100), allowed);
  return value;
}

/**
 * Validates the fields and files of `POST /v1/images/edits` or `/v1/images/variations` (multipart):
 * unknown or repeated fields, missing `prompt` or `image`, too many images, a `mask` on a variation,
 * and every value are 400s naming the param. `fields` are the text fields as sent; `files` the
 * field name of each file part in order.
 */
export function parseImageForm(endpoint: "/images/edits" | "/images/variations", fields: readonly (readonly [string, string])[], files: readonly string[]): ImageRequest {
  const known = imageFormTextFields(endpoint);
  const values = new Map<string, string>();
  for (const [name, value] of fields) {
    if (name === "image" || name === "image[]" || name === "mask") {
      throw invalidRequest(`'${name}' must be a file (a form part with a filename), not a text field.`, name, "invalid_type");
    }
    if (!known.has(name)) throw invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter");
    if (values.has(name)) throw invalidRequest(`'${name}' is given more than once.`, name, "invalid_value");
    values.set(name, value);
  }
  const edit = endpoint === "/images/edits";
  const images = files.filter((f) => f === "image" || (edit && f === "image[]")).length;
  for (const f of files) {
    if (f === "image" || (edit && (f === "image[]" || f === "mask"))) continue;
    throw invalidRequest(known.has(f) ? `'${f}' must be a text field, not a file.` : `Unrecognized request argument supplied: ${f}`, f, known.has(f) ? "invalid_type" : "unknown_parameter");
  }
  if (images === 0) throw invalidRequest("Missing required parameter: 'image'.", "image", "missing_required_parameter");
  if (!edit && images > 1) throw invalidRequest("'image' is given more than once: a variation takes one image.", "image", "invalid_value");
  if (images > MAX_EDIT_IMAGES) throw invalidRequest(`Invalid 'image': at most ${MAX_EDIT_IMAGES} images, but got ${images}.`, "image", "array_above_max_length");
  if (files.filter((f) => f === "mask").length > 1) throw invalidRequest("'mask' is given more than once.", "mask", "invalid_value");

  const get = (name: string): string | undefined => values.get(name);
  let prompt: string | undefined;
  if (edit) {
    prompt = get("prompt");
    if (prompt === undefined) throw invalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
    if (prompt === "") throw invalidRequest("Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.", "prompt", "empty_string");
    if (prompt.length > MAX_IMAGE_PROMPT) throw invalidRequest(`Invalid 'prompt': string too long. Expected a string with maximum length ${MAX_IMAGE_PROMPT}, but got a string with length ${prompt.length} instead.`, "prompt", "string_above_max_length");
  }
  const model = get("model");
  if (model === "") throw invalidRequest("Invalid 'model': empty string. Expected a model name.", "model", "empty_string");
  const rawN = get("n");
  const n = rawN === undefined ? 1 : formInteger("n", rawN, 1, 10);
  const rawSize = get("size");
  const size = rawSize === undefined ? undefined : checkSize("size", rawSize, edit ? EDIT_SIZES : VARIATION_SIZES, edit);
  const rawResponse = get("response_format");
  if (rawResponse !== undefined) formEnum("response_format", rawResponse, RESPONSE_FORMATS);
  const user = get("user");
  if (user !== undefined && user.length > 256) throw invalidRequest("Invalid 'user': string too long. Expected a string with maximum length 256.", "user", "string_above_max_length");
  let quality: string | undefined;
  let stream = false;
  if (edit) {
    const rawQuality = get("quality");
    quality = rawQuality === undefined ? undefined : formEnum("quality", rawQuality, EDIT_QUALITIES);
    const checks: [string, readonly string[]][] = [["output_format", OUTPUT_FORMATS], ["background", BACKGROUNDS], ["input_fidelity", FIDELITIES]];
    for (const [name, allowed] of checks) {
      const value = get(name);
      if (value !== undefined) formEnum(name, value, allowed);
    }
    const compression = get("output_compression");
    if (compression !== undefined) formInteger("output_compression", compression, 0, 100);
    const partial = get("partial_images");
    if (partial !== undefined) formInteger("partial_images", partial, 0, 3);
    const rawStream = get("stream");
    stream = rawStream === undefined ? false : formBoolean("stream", rawStream);
  }
  return { endpoint, model: model ?? DEFAULT_IMAGE_MODELS[endpoint], modelGiven: model !== undefined, prompt, n, size, quality, stream };
}

/** What an upstream's `ImagesResponse` (or a stream's completed events) says, for metering and tools. */
export interface ImagesOutcome {
  /** Images made. */
  images: number;
  /** The size, quality, background and format the answer reports (GPT Image resolves `auto`). */
  size: string | undefined;
  quality: string | undefined;
  background: string | undefined;
  outputFormat: string | undefined;
  /** Tokens, where the answer reports them (GPT Image). */
  usage: Usage | undefined;
  /** The first image's base64 bytes and revised prompt, where the answer has them. */
  first: { b64: string | undefined; url: string | undefined; revisedPrompt: string | undefined } | undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Reads a whole `ImagesResponse`; undefined when the text is not one (an error body, say). */
export function readImagesResponse(json: string): ImagesOutcome | undefined {
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObject(body) || !Array.isArray(body.data)) return undefined;
  const first: unknown = body.data[0];
  return {
    images: body.data.length,
    size: text(body.size),
    quality: text(body.quality),
    background: text(body.background),
    outputFormat: text(body.output_format),
    usage: canonicalUsage(body.usage),
    first: isObject(first) ? { b64: text(first.b64_json), url: text(first.url), revisedPrompt: text(first.revised_prompt) } : undefined,
  };
}

/** One event of an image stream (`image_generation.*`, `image_edit.*`): a partial image, or the finished one. */
export function readImageStreamEvent(data: string): { kind: "partial"; b64: string; index: number } | { kind: "completed"; outcome: ImagesOutcome } | undefined {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(event) || typeof event.type !== "string") return undefined;
  const b64 = text(event.b64_json);
  if (event.type.endsWith(".partial_image") && b64 !== undefined) return { kind: "partial", b64, index: typeof event.partial_image_index === "number" ? event.partial_image_index : 0 };
  if (!event.type.endsWith(".completed")) return undefined;
  return {
    kind: "completed",
    outcome: {
      images: 1,
      size: text(event.size),
      quality: text(event.quality),
      background: text(event.background),
      outputFormat: text(event.output_format),
      usage: canonicalUsage(event.usage),
      first: { b64, url: undefined, revisedPrompt: undefined },
    },
  };
}

/**
 * Watches a relayed image stream (`image_generation.*` or `image_edit.*` events) without holding it
 * up: each completed event is one image, with its size, quality and token usage.
 */
export class ImageStreamScanner {
  readonly #events = new SseDataDecoder();
  images = 0;
  size: string | undefined;
  quality: string | undefined;
  usage: Usage | undefined;

  push(chunk: Uint8Array): void {
    for (const data of this.#events.push(chunk)) this.#event(data);
  }

  /** The stream has ended: an event it ended in without its blank line. */
  end(): void {
    for (const data of this.#events.end()) this.#event(data);
  }

  #event(data: string): void {
    // Cheap test first: partial images carry no usage and count for nothing.
    if (!data.includes(".completed")) return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!isObject(frame) || (frame.type !== "image_generation.completed" && frame.type !== "image_edit.completed")) return;
    this.images++;
    this.size = text(frame.size) ?? this.size;
    this.quality = text(frame.quality) ?? this.quality;
    const usage = canonicalUsage(frame.usage);
    if (usage !== undefined) {
      const sum = this.usage;
      this.usage = sum === undefined ? usage : { ...sum, promptTokens: sum.promptTokens + usage.promptTokens, completionTokens: sum.completionTokens + usage.completionTokens, cachedTokens: sum.cachedTokens + usage.cachedTokens };
    }
  }
}

import { invalidRequest } from "../../core/errors.ts";
import { MODERATION_CATEGORIES, type ModerationVerdict } from "../../guard/moderation-categories.ts";
import { describeType, FieldReader } from "./validate.ts";

/** One thing to classify (one result): its texts, and the images it carries with their params. */
export interface ModerationItem {
  texts: string[];
  images: { url: string; param: string }[];
}

/** A parsed `POST /v1/moderations` body. */
export interface ModerationRequest {
  model: string;
  /** One per result: a string input is one item, an array of strings one each, an array of parts one in all. */
  items: ModerationItem[];
}

/** The model a request names when it names none. */
export const DEFAULT_MODERATION_MODEL = "omni-moderation-latest";
const MAX_INPUTS = 2048;

/** Parses a moderation request; a 400 naming the field for anything wrong. */
export function parseModerationRequest(body: unknown): ModerationRequest {
  const r = new FieldReader(body, "");
  r.rejectUnknown(new Set(["input", "model"]));
  const model = r.string("model", { nonEmpty: true, maxLength: 256 }) ?? DEFAULT_MODERATION_MODEL;
  const input = r.required("input");
  if (typeof input === "string") return { model, items: [{ texts: [input], images: [] }] };
  if (!Array.isArray(input)) throw invalidRequest(`Invalid type for 'input': expected a string or an array, but got ${describeType(input)} instead.`, "input", "invalid_type");
  if (input.length === 0) throw invalidRequest("Invalid 'input': empty array. Expected at least one input.", "input", "empty_array");
  if (input.length > MAX_INPUTS) throw invalidRequest(`Invalid 'input': at most ${MAX_INPUTS} inputs.`, "input", "array_above_max_length");
  if (input.every((v) => typeof v === "string")) return { model, items: (input as string[]).map((text) => ({ texts: [text], images: [] })) };
  const item: ModerationItem = { texts: [], images: [] };
  input.forEach((part, i) => {
    const param = `input[${i}]`;
    const p = new FieldReader(part, param);
    const type = p.enumeration("type", ["text", "image_url"] as const, { required: true });
    if (type === "text") {
      p.rejectUnknown(new Set(["type", "text"]));
      item.texts.push(p.string("text", { required: true }));
      return;
    }
    p.rejectUnknown(new Set(["type", "image_url"]));
    const image = p.object("image_url") ?? (p.required("image_url") as never);
    image.rejectUnknown(new Set(["url"]));
    item.images.push({ url: image.string("url", { required: true, nonEmpty: true }), param: `${param}.image_url` });
  });
  return { model, items: [item] };
}

/** The `CreateModerationResponse` for the verdicts, one per item. */
export function renderModeration(id: string, model: string, verdicts: readonly ModerationVerdict[]): Record<string, unknown> {
  return {
    id,
    model,
    results: verdicts.map((v) => {
      const categories: Record<string, boolean> = {};
      const scores: Record<string, number> = {};
      const applied: Record<string, string[]> = {};
      for (const c of MODERATION_CATEGORIES) {
        categories[c] = v.categories[c];
        scores[c] = v.scores[c];
        applied[c] = [...v.appliedInputTypes[c]];
      }
      return { flagged: v.flagged, categories, category_scores: scores, category_applied_input_types: applied };
    }),
  };
}

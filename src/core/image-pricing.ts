/**
 * OpenAI's published per-image prices (USD), by model family, quality and size. Images are priced
 * per image here whatever token prices a routed model has configured: the cost of an image request
 * is the number of images times the price of one.
 */

/** The model families with a published per-image price. */
export type ImageFamily = "dall-e-2" | "dall-e-3" | "gpt-image-1" | "gpt-image-1-mini";

/** Price of one image by quality, then size. */
type PriceGrid = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** GPT Image prices share their sizes: square, portrait, landscape. */
function gptImage(low: readonly [number, number], medium: readonly [number, number], high: readonly [number, number]): PriceGrid {
  const row = ([square, other]: readonly [number, number]) => ({ "1024x1024": square, "1024x1536": other, "1536x1024": other });
  return { low: row(low), medium: row(medium), high: row(high) };
}

/** USD per image, as OpenAI publishes them (platform.openai.com/docs/pricing, image generation). */
export const OPENAI_IMAGE_PRICES: Readonly<Record<ImageFamily, PriceGrid>> = {
  "dall-e-2": { standard: { "256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02 } },
  "dall-e-3": {
    standard: { "1024x1024": 0.04, "1024x1792": 0.08, "1792x1024": 0.08 },
    hd: { "1024x1024": 0.08, "1024x1792": 0.12, "1792x1024": 0.12 },
  },
  "gpt-image-1": gptImage([0.011, 0.016], [0.042, 0.063], [0.167, 0.25]),
  "gpt-image-1-mini": gptImage([0.005, 0.006], [0.011, 0.015], [0.036, 0.052]),
};

/** What a family makes when the request leaves size or quality to it (`auto` or absent). */
const DEFAULTS: Readonly<Record<ImageFamily, { size: string; quality: string }>> = {
  "dall-e-2": { size: "1024x1024", quality: "standard" },
  "dall-e-3": { size: "1024x1024", quality: "standard" },
  // `auto` quality the answer does not resolve is priced as medium.
  "gpt-image-1": { size: "1024x1024", quality: "medium" },
  "gpt-image-1-mini": { size: "1024x1024", quality: "medium" },
};

/** The family of an OpenAI model name (a dated snapshot such as `dall-e-3-2024-01-01` too), if it has per-image prices. */
export function imageFamily(model: string): ImageFamily | undefined {
  const base = model.replace(/-\d{4}-\d{2}-\d{2}$/, "");
  return base in OPENAI_IMAGE_PRICES ? (base as ImageFamily) : undefined;
}

/** The size and quality an image of `family` is priced at, with `auto` and absent values resolved. */
export function pricedAs(family: ImageFamily, size: string | undefined, quality: string | undefined): { size: string; quality: string } {
  const defaults = DEFAULTS[family];
  const grid = OPENAI_IMAGE_PRICES[family];
  const q = quality === undefined || quality === "auto" || grid[quality] === undefined ? defaults.quality : quality;
  const s = size === undefined || size === "auto" ? defaults.size : size;
  return { size: s, quality: q };
}

/**
 * USD for one image of `family` at `size` and `quality` (`auto` or absent values at the family's
 * default); undefined for a size the family has no price for.
 */
export function imagePrice(family: ImageFamily, size: string | undefined, quality: string | undefined): number | undefined {
  const priced = pricedAs(family, size, quality);
  return OPENAI_IMAGE_PRICES[family][priced.quality]?.[priced.size];
}

import type { Usage } from "./chat.ts";

/** Prices in US dollars per million tokens, as OpenAI publishes them. */
export interface Pricing {
  input: number;
  /** Prompt tokens served from the prefix cache; OpenAI bills these at a discount. */
  cachedInput: number;
  output: number;
}

/**
 * The cost of one request: cached prompt tokens at the cached-input price, the rest at the input
 * price; a usage with a fixed `costUsd` (images, priced per image) costs that.
 */
export function priceUsage(usage: Usage, pricing: Pricing): number {
  if (usage.costUsd !== undefined) return usage.costUsd;
  const uncached = Math.max(0, usage.promptTokens - usage.cachedTokens);
  const micro = uncached * pricing.input + usage.cachedTokens * pricing.cachedInput + usage.completionTokens * pricing.output;
  return micro / 1_000_000;
}

/**
 * OpenAI's published prices (USD per million tokens: input, cached input, output) for its model
 * names, the defaults for upstream OpenAI models that have no configured price. Local models cost 0
 * unless configured.
 */
export const OPENAI_PRICES: Readonly<Record<string, Pricing>> = {
  "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  "text-embedding-3-small": { input: 0.02, cachedInput: 0.02, output: 0 },
  "text-embedding-3-large": { input: 0.13, cachedInput: 0.13, output: 0 },
};

/** The default price of an OpenAI model name, also for dated snapshots such as `gpt-4o-2024-08-06`. */
export function openAiPrice(model: string): Pricing | undefined {
  const exact = OPENAI_PRICES[model];
  if (exact) return exact;
  const base = model.replace(/-\d{4}-\d{2}-\d{2}$/, "");
  return OPENAI_PRICES[base];
}

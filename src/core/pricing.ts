import type { Usage } from "./chat.ts";

/** Prices in US dollars per million tokens, as OpenAI publishes them. */
export interface Pricing {
  input: number;
  /** Prompt tokens served from the prefix cache; OpenAI bills these at a discount. */
  cachedInput: number;
  output: number;
}

/** The cost of one request: cached prompt tokens at the cached-input price, the rest at the input price. */
export function priceUsage(usage: Usage, pricing: Pricing): number {
  const uncached = Math.max(0, usage.promptTokens - usage.cachedTokens);
  const micro = uncached * pricing.input + usage.cachedTokens * pricing.cachedInput + usage.completionTokens * pricing.output;
  return micro / 1_000_000;
}

import type { SamplingOptions } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";
import type { FieldReader } from "./validate.ts";

/** Folds any integer, negative or larger than 32 bits included, onto the engine's unsigned 32-bit seed. */
function toEngineSeed(seed: number): number {
  const mod = 2 ** 32;
  return ((seed % mod) + mod) % mod;
}

/** `logit_bias`: token id → integer bias in −100…100, at most 1024 entries. */
function readLogitBias(reader: FieldReader): Map<number, number> {
  const bias = reader.object("logit_bias");
  const out = new Map<number, number>();
  if (bias === undefined) return out;
  for (const key of Object.keys(bias.obj)) {
    if (!/^\d+$/.test(key)) throw invalidRequest(`Invalid 'logit_bias': keys must be token ids (non-negative integers), got '${key}'.`, `logit_bias.${key}`, "invalid_value");
    const value = bias.number(key, { min: -100, max: 100 });
    if (value !== undefined) out.set(Number(key), value);
  }
  if (out.size > 1024) throw invalidRequest("Invalid 'logit_bias': at most 1024 tokens may be biased.", "logit_bias", "invalid_value");
  return out;
}

/**
 * The sampling fields chat completions and completions share: `temperature` (0–2, default 1),
 * `top_p` (0–1), `presence_penalty` / `frequency_penalty` (−2–2), `logit_bias`, and `seed` (read by
 * the caller, which orders the reads as its 400s should come).
 */
export function readSampling(reader: FieldReader, seed: number | undefined): SamplingOptions {
  return {
    temperature: reader.number("temperature", { min: 0, max: 2 }) ?? 1,
    topP: reader.number("top_p", { min: 0, max: 1 }) ?? 1,
    seed: seed === undefined ? undefined : toEngineSeed(seed),
    presencePenalty: reader.number("presence_penalty", { min: -2, max: 2 }) ?? 0,
    frequencyPenalty: reader.number("frequency_penalty", { min: -2, max: 2 }) ?? 0,
    logitBias: readLogitBias(reader),
  };
}

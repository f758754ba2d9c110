import type { EvaluationPriority, LlamaContextSequence, Token } from "node-llama-cpp";
import type { TokenLogprob } from "../../core/chat.ts";
import type { TokenBytes } from "./token-bytes.ts";
import { logprobFromLogits } from "./token-sampler.ts";

/**
 * Evaluates all but the last prompt token on an empty sequence, asking the engine for the raw
 * logits after each, and returns the log probability of every prompt token after the first (with
 * its `k` most likely alternatives): what `echo` with `logprobs` reports. The last token is left
 * for the sampler, whose first step evaluates it and samples from its logits. Scored positions
 * need their own logits, so no cached prefix can serve them: the caller clears the sequence first.
 */
export async function scorePrompt(
  sequence: LlamaContextSequence,
  tokens: readonly Token[],
  k: number,
  bytes: TokenBytes,
  evaluationPriority: EvaluationPriority,
): Promise<TokenLogprob[]> {
  if (tokens.length < 2) return [];
  const input = tokens.slice(0, -1).map((token, i) => {
    const next = tokens[i + 1] as Token;
    const generateNext = { totalLogitWeight: true, logits: { filter: { tokens: [next], includeTop: Math.max(1, k), includeMax: true } } };
    return [token, { generateNext }] as [Token, { generateNext: typeof generateNext }];
  });
  const results = await sequence.controlledEvaluate(input, { evaluationPriority });
  return input.map((_, i) => {
    const out = results[i]?.next;
    return logprobFromLogits(out?.logits ?? new Map<Token, number>(), out?.totalLogitWeight, tokens[i + 1] as Token, k, bytes);
  });
}

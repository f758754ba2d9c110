import { countTokens } from "gpt-tokenizer";
import { emptyUsage, type FinishReason, type TokenLogprob, type Usage } from "../../core/chat.ts";
import type { TextCompletionPart } from "../../core/completion.ts";
import { prefixedId, unixSeconds } from "../../core/ids.ts";
import type { CompletionEnvelope } from "../../protocol/openai/chat-completions-render.ts";
import { parseCompletionRequest, type ParsedCompletionRequest } from "../../protocol/openai/completions-parse.ts";
import { renderCompletion, type CompletedTextChoice } from "../../protocol/openai/completions-render.ts";
import { systemFingerprint } from "../../protocol/openai/fingerprint.ts";
import type { ChatModel } from "../../providers/provider.ts";
import type { Guardrails } from "../guardrails/guardrails.ts";
import type { ModelRegistry } from "../model-registry.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";
import { computedModel, parseRelayRequest, type RelayEndpoint, type RelayRequest } from "./relay.ts";

/** A completions request: generated here (validated against the spec), or relayed to an upstream as is. */
export type CompletionsCall = { kind: "engine"; model: ChatModel; parsed: ParsedCompletionRequest } | { kind: "relay"; request: RelayRequest };

/** A generation under way: its envelope and its parts, the first already awaited (request errors come before any byte). */
export interface StartedCompletion {
  envelope: CompletionEnvelope;
  parts: AsyncIterator<TextCompletionPart>;
  first: IteratorResult<TextCompletionPart>;
}

/** Tokens a request may use before the model has counted them: prompts (text by o200k) plus every candidate's output. */
function estimate(parsed: ParsedCompletionRequest): number {
  const { request } = parsed;
  const prompt = request.prompts.reduce((sum, p) => sum + (typeof p === "string" ? countTokens(p) : p.length), 0);
  return prompt + request.maxTokens * request.n * request.prompts.length;
}

/** Collects a completion's parts into its candidates, by engine index, and its usage. */
export class TextChoiceCollector {
  readonly choices: CompletedTextChoice[];
  usage: Usage = emptyUsage();

  constructor(count: number) {
    this.choices = Array.from({ length: count }, () => ({ promptText: "", promptLogprobs: undefined, text: "", logprobs: undefined, finishReason: "stop" as FinishReason }));
  }

  add(part: TextCompletionPart): void {
    if (part.type === "usage") {
      this.usage = part.usage;
      return;
    }
    const choice = this.choices[part.choice];
    if (choice === undefined) return;
    if (part.type === "prompt") {
      choice.promptText = part.text;
      choice.promptLogprobs = part.logprobs;
    } else if (part.type === "text-delta") {
      choice.text += part.text;
      if (part.logprobs !== undefined) choice.logprobs = [...(choice.logprobs ?? []), ...part.logprobs];
    } else {
      choice.finishReason = part.finishReason;
    }
  }
}

/** The mean logprob of a candidate's generated tokens; a candidate with none ranks last. */
function meanLogprob(logprobs: readonly TokenLogprob[] | undefined): number {
  if (logprobs === undefined || logprobs.length === 0) return Number.NEGATIVE_INFINITY;
  return logprobs.reduce((sum, l) => sum + l.logprob, 0) / logprobs.length;
}

/**
 * OpenAI's `best_of`: of the `bestOf` candidates generated for each prompt (engine index
 * `p * bestOf + j`), keeps the `n` with the highest mean token logprob, best first, at wire index
 * `p * n + i`. With `bestOf == n` the candidates are returned as generated.
 */
export function selectBest<T extends { logprobs: readonly TokenLogprob[] | undefined }>(candidates: readonly T[], prompts: number, bestOf: number, n: number): T[] {
  if (bestOf === n) return [...candidates];
  const out: T[] = [];
  for (let p = 0; p < prompts; p++) {
    const group = candidates.slice(p * bestOf, (p + 1) * bestOf).map((c, j) => ({ c, j, score: meanLogprob(c.logprobs) }));
    group.sort((a, b) => b.score - a.score || a.j - b.j);
    out.push(...group.slice(0, n).map((g) => g.c));
  }
  return out;
}

/**
 * `POST /v1/completions`. Models whose engine completes raw text (local GGUF models) are validated
 * against the spec, admitted, metered and run here; any other model goes to the relay, which
 * forwards the body to an upstream that has the endpoint or answers 400 `unsupported_endpoint`.
 */
export class CompletionsEndpoint implements Endpoint<CompletionsCall> {
  readonly #registry: ModelRegistry;
  readonly relay: RelayEndpoint;
  readonly #engineVersion: string;

  readonly #guardrails: Guardrails | undefined;

  constructor(registry: ModelRegistry, relay: RelayEndpoint, engineVersion: string, guardrails?: Guardrails) {
    this.#registry = registry;
    this.relay = relay;
    this.#engineVersion = engineVersion;
    this.#guardrails = guardrails;
  }

  parse(body: unknown): CompletionsCall {
    const model = computedModel(this.#registry, body, (m) => m.capabilities.completions === "engine");
    if (model === undefined) return { kind: "relay", request: parseRelayRequest(body) };
    return { kind: "engine", model, parsed: parseCompletionRequest(body) };
  }

  /** Admits and starts a generation on the engine; errors up to the first part are thrown, so they still get a status. */
  async start(call: EndpointCall, model: ChatModel, parsed: ParsedCompletionRequest): Promise<StartedCompletion> {
    await call.admit(parsed.request.model, model, estimate(parsed));
    call.served(model);
    // The project's guardrails: text prompts are checked (token-id prompts have no text to read), and the completions' text.
    const guard = await this.#guardrails?.forProject(call.principal.projectId);
    let request = parsed.request;
    if (guard !== undefined) {
      const texts = request.prompts.filter((p): p is string => typeof p === "string");
      const checked = await guard.checkPrompts(texts, [request.model, model.descriptor.id], estimate(parsed), call.signal);
      let next = 0;
      request = { ...request, prompts: request.prompts.map((p) => (typeof p === "string" ? (checked[next++] ?? p) : p)) };
    }
    const streamed = model.completeText({ ...request, priority: call.priority }, call.signal, (usage) => call.usage(usage))[Symbol.asyncIterator]();
    const parts = guard === undefined ? streamed : guard.guardStream(streamed, call.signal);
    const first = await parts.next();
    const id = model.descriptor.id;
    const envelope: CompletionEnvelope = { id: prefixedId("cmpl-"), created: unixSeconds(), model: id, systemFingerprint: systemFingerprint(id, this.#engineVersion) };
    return { envelope, parts, first };
  }

  async run(call: EndpointCall, parsed: CompletionsCall): Promise<EndpointAnswer> {
    if (parsed.kind === "relay") return this.relay.run(call, parsed.request);
    const { model, parsed: p } = parsed;
    const started = await this.start(call, model, p);
    const collector = new TextChoiceCollector(p.request.prompts.length * p.bestOf);
    try {
      for (let step = started.first; !step.done; step = await started.parts.next()) collector.add(step.value);
    } finally {
      await started.parts.return?.(undefined);
    }
    call.usage(collector.usage);
    const choices = selectBest(collector.choices, p.request.prompts.length, p.bestOf, p.n);
    return { kind: "json", status: 200, body: renderCompletion(started.envelope, choices, collector.usage, { echo: p.echo, logprobs: p.logprobs }) };
  }
}

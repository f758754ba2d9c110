import type { Usage } from "../../../core/chat.ts";
import { toApiError } from "../../../core/errors.ts";
import { priceUsage, type Pricing } from "../../../core/pricing.ts";
import type { LogFields } from "../../../logging/logger.ts";
import { prefixedId, unixSeconds } from "../../../core/ids.ts";
import { encodeSseJson, SSE_DONE } from "../../../core/sse.ts";
import { parseChatCompletionRequest } from "../../../protocol/openai/chat-completions-parse.ts";
import { ChunkSerializer, renderChatCompletion, type CompletionEnvelope } from "../../../protocol/openai/chat-completions-render.ts";
import { systemFingerprint } from "../../../protocol/openai/fingerprint.ts";
import { ChoiceCollector, type ChatService } from "../../../services/chat-service.ts";
import type { StoredChatRequest } from "../../../protocol/openai/stored-chat-completions.ts";
import type { ObjectStore } from "../../../storage/object-store.ts";
import { sendJson } from "../../respond.ts";
import { SseWriter } from "../../sse-writer.ts";
import type { Handler, Metering, RequestContext } from "../../router.ts";
import { estimateTokens } from "../../../core/token-estimate.ts";
import type { ChatModel } from "../../../providers/provider.ts";
import type { Principal } from "../../../services/access.ts";
import type { Admission } from "../../../services/rate-limiter.ts";

/** Adds a request's token counts, and its cost when the model has prices, to its log line. */
function logUsage(log: LogFields, usage: Usage, pricing: Pricing | undefined): void {
  log.prompt_tokens = usage.promptTokens;
  log.cached_tokens = usage.cachedTokens;
  log.completion_tokens = usage.completionTokens;
  log.reasoning_tokens = usage.reasoningTokens;
  if (pricing !== undefined) log.cost_usd = Number(priceUsage(usage, pricing).toFixed(8));
}

/** Frames produced within this many milliseconds of the last write share one socket write. */
const STREAM_COALESCE_MS = 10;

/** Checks that run before any model work: key restrictions, budgets, rate limits. */
export interface RequestGate {
  admit(principal: Principal, requested: string, model: ChatModel, estimatedTokens: number): Promise<Admission>;
}

/**
 * Keeps a finished completion made with `store: true`: the `chat.completion` object (with the
 * request's metadata) and the request's messages as the client sent them. A failure to store is
 * logged, not answered: the completion was made (and metered), and a retry would pay for it again.
 */
async function storeCompletion(
  objects: ObjectStore,
  ctx: RequestContext,
  env: CompletionEnvelope,
  body: unknown,
  metadata: Record<string, string> | undefined,
  completion: Record<string, unknown>,
): Promise<void> {
  const messages = (body as { messages: unknown[] }).messages;
  const request: StoredChatRequest = { messages, metadata: metadata ?? null };
  try {
    await objects.insertChatCompletion({
      id: env.id,
      projectId: ctx.principal.projectId,
      createdAt: env.created,
      model: env.model,
      metadata: metadata ?? {},
      request: JSON.stringify(request),
      completion: JSON.stringify({ ...completion, metadata: metadata ?? {} }),
    });
    ctx.log.stored = true;
  } catch (error) {
    ctx.log.stored = false;
    ctx.log.store_error = error instanceof Error ? error.message : String(error);
  }
}

/**
 * `POST /v1/chat/completions`: validate, run the chat service, render JSON or SSE. With `objects`,
 * a request with `store: true` is kept once it has finished (streamed ones assembled from what was
 * streamed), before the client sees its end, so that it is listable as soon as the client has it.
 */
export function chatCompletionsHandler(chat: ChatService, engineVersion: string, gate: RequestGate, objects?: ObjectStore): Handler {
  return async (ctx) => {
    const body = await ctx.readJson();
    const parsed = parseChatCompletionRequest(body);
    const store = parsed.store ? objects : undefined;
    ctx.log.model = parsed.request.model;
    ctx.log.stream = parsed.stream;
    const model = chat.resolve(parsed.request.model);
    const admission = await gate.admit(ctx.principal, parsed.request.model, model, estimateTokens(parsed.request));
    for (const [name, value] of Object.entries(admission.headers)) ctx.res.setHeader(name, value);
    const metering: Metering = { model: model.descriptor.id, usage: undefined, pricing: model.descriptor.pricing, batch: false };
    ctx.metering = metering;
    ctx.cleanups.push(() => admission.finish(metering.usage));
    const onUsage = (usage: Usage): void => {
      metering.usage = usage;
    };
    const env: CompletionEnvelope = { id: prefixedId("chatcmpl-"), created: unixSeconds(), model: "", systemFingerprint: "" };

    if (!parsed.stream) {
      const result = await chat.complete(parsed.request, ctx.signal, onUsage);
      env.model = result.model.descriptor.id;
      metering.model = env.model;
      metering.pricing = result.model.descriptor.pricing;
      logUsage(ctx.log, result.usage, metering.pricing);
      env.systemFingerprint = systemFingerprint(env.model, engineVersion);
      const completion = renderChatCompletion(env, result.choices, result.usage, parsed);
      if (store !== undefined) await storeCompletion(store, ctx, env, body, parsed.metadata, completion);
      sendJson(ctx.res, 200, completion);
      return;
    }

    // Errors up to the first generated part still get a proper status; after that they go in-stream.
    const run = await chat.start(parsed.request, ctx.signal, onUsage);
    env.model = run.model.descriptor.id;
    metering.model = env.model;
    metering.pricing = run.model.descriptor.pricing;
    env.systemFingerprint = systemFingerprint(env.model, engineVersion);
    ctx.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const serializer = new ChunkSerializer(env, { ...parsed, logprobs: parsed.request.topLogprobs !== undefined });
    const writer = new SseWriter(ctx.res, STREAM_COALESCE_MS);
    // What was streamed, collected as a non-streamed completion would be, for storing.
    const collected = store === undefined ? undefined : new ChoiceCollector(parsed.request);
    try {
      for (let i = 0; i < parsed.request.n; i++) await writer.write(serializer.opening(i));
      for (let step = run.first; !step.done; step = await run.parts.next()) {
        const part = step.value;
        collected?.add(part);
        const frame = serializer.chunk(part);
        if (frame !== undefined && !(await writer.write(frame))) return;
      }
      if (store !== undefined && collected !== undefined) {
        const completion = renderChatCompletion(env, collected.choices, metering.usage ?? collected.usage, parsed);
        await storeCompletion(store, ctx, env, body, parsed.metadata, completion);
      }
      writer.write(SSE_DONE);
    } catch (error) {
      // The status line is gone; OpenAI's clients read an error object in a data frame.
      writer.write(encodeSseJson(toApiError(error).toJSON()));
    } finally {
      await run.parts.return?.(undefined);
      await writer.end();
      // Logged once the stream has ended, with the prices of the model that actually served.
      if (metering.usage) logUsage(ctx.log, metering.usage, metering.pricing);
    }
  };
}

import { toApiError } from "../../../core/errors.ts";
import { encodeSseJson, SSE_DONE } from "../../../core/sse.ts";
import { ChunkSerializer, renderChatCompletion, type ChatUrlCitation } from "../../../protocol/openai/chat-completions-render.ts";
import { ChoiceCollector } from "../../../services/chat-service.ts";
import type { ChatCompletionsEndpoint } from "../../../services/endpoints/chat-completions.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import type { StoredChatRequest } from "../../../protocol/openai/stored-chat-completions.ts";
import type { ObjectStore } from "../../../storage/object-store.ts";
import { answerJson } from "../../../services/endpoints/endpoint.ts";
import { logUsage, modelCall, sendAnswer } from "../../model-call.ts";
import { openEventStream } from "../../sse-writer.ts";
import type { Handler, RequestContext } from "../../router.ts";

/** A rendered `chat.completion` object, as far as storing it needs to read it. */
type RenderedCompletion = Record<string, unknown> & { id: string; created: number; model: string };


/**
 * Keeps a finished completion made with `store: true`: the `chat.completion` object (with the
 * request's metadata) and the request's messages as the client sent them. A failure to store is
 * logged, not answered: the completion was made (and metered), and a retry would pay for it again.
 */
async function storeCompletion(objects: ObjectStore, ctx: RequestContext, body: unknown, metadata: Record<string, string> | undefined, completion: RenderedCompletion): Promise<void> {
  const messages = (body as { messages: unknown[] }).messages;
  const request: StoredChatRequest = { messages, metadata: metadata ?? null };
  try {
    await objects.insertChatCompletion({
      id: completion.id,
      projectId: ctx.principal.projectId,
      createdAt: completion.created,
      model: completion.model,
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
 * `POST /v1/chat/completions`: validate, run the endpoint, render JSON or SSE. With `objects`,
 * a request with `store: true` is kept once it has finished (streamed ones assembled from what was
 * streamed), before the client sees its end, so that it is listable as soon as the client has it.
 */
export function chatCompletionsHandler(endpoint: ChatCompletionsEndpoint, gate: RequestGate, objects?: ObjectStore): Handler {
  return async (ctx) => {
    const body = await ctx.readJson();
    const parsed = endpoint.parse(body);
    const store = parsed.store ? objects : undefined;
    ctx.log.model = parsed.request.model;
    ctx.log.stream = parsed.stream;
    const call = modelCall(ctx, gate);

    if (!parsed.stream) {
      const answer = await endpoint.run(call, parsed);
      logUsage(ctx);
      if (store !== undefined) await storeCompletion(store, ctx, body, parsed.metadata, answerJson(answer) as RenderedCompletion);
      sendAnswer(ctx.res, answer);
      return;
    }

    // Errors up to the first generated part still get a proper status; after that they go in-stream.
    const { envelope: env, run, first, parts, audioIds } = await endpoint.start(call, parsed);
    const serializer = new ChunkSerializer(env, { ...parsed, logprobs: parsed.request.topLogprobs !== undefined, audioIds });
    const writer = openEventStream(ctx.res);
    // What was streamed, collected as a non-streamed completion would be, for storing.
    const collected = store === undefined ? undefined : new ChoiceCollector(parsed.request);
    const cited: (readonly ChatUrlCitation[])[] = [];
    try {
      for (let i = 0; i < parsed.request.n; i++) await writer.write(serializer.opening(i));
      for (let step = first; !step.done; step = await parts.next()) {
        const part = step.value;
        if (part.type === "annotations") cited[part.choice] = part.annotations;
        else if (part.type !== "audio-data" && part.type !== "audio-done") collected?.add(part);
        const frame = serializer.chunk(part);
        if (frame !== undefined && !(await writer.write(frame))) return;
      }
      if (store !== undefined && collected !== undefined) {
        const choices = collected.choices.map((choice, i) => ({ ...choice, annotations: cited[i] }));
        const completion = renderChatCompletion(env, choices, ctx.metering?.usage ?? collected.usage, parsed) as RenderedCompletion;
        await storeCompletion(store, ctx, body, parsed.metadata, completion);
      }
      writer.write(SSE_DONE);
    } catch (error) {
      // The status line is gone; OpenAI's clients read an error object in a data frame.
      writer.write(encodeSseJson(toApiError(error).toJSON()));
    } finally {
      await parts.return?.(undefined);
      if (parts !== run.parts) await run.parts.return?.(undefined);
      await writer.end();
      // Logged once the stream has ended, with the prices of the model that actually served.
      logUsage(ctx);
    }
  };
}

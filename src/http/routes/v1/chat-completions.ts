import { randomInt } from "node:crypto";
import { toApiError } from "../../../core/errors.ts";
import { prefixedId, randomId, unixSeconds } from "../../../core/ids.ts";
import { encodeSseJson, SSE_DONE } from "../../../core/sse.ts";
import {
  parseChatCompletionRequest,
  renderChatCompletion,
  renderChunk,
  renderUsageChunk,
  type ChunkDelta,
  type CompletionEnvelope,
} from "../../../protocol/openai/chat-completions.ts";
import { systemFingerprint } from "../../../protocol/openai/fingerprint.ts";
import type { ChatService } from "../../../services/chat-service.ts";
import { sendJson, writeWithBackpressure } from "../../respond.ts";
import type { Handler } from "../../router.ts";

/** Pads streamed chunks to a less revealing size, as OpenAI's `obfuscation` field does. */
function obfuscation(delta: ChunkDelta): string {
  const length = delta.kind === "content" ? delta.text.length : 0;
  return randomId(16 - (length % 16) + randomInt(0, 16));
}

/** `POST /v1/chat/completions`: validate, run the chat service, render JSON or SSE. */
export function chatCompletionsHandler(chat: ChatService, engineVersion: string): Handler {
  return async (ctx) => {
    const parsed = parseChatCompletionRequest(await ctx.readJson());
    ctx.log.model = parsed.request.model;
    ctx.log.stream = parsed.stream;
    const env: CompletionEnvelope = { id: prefixedId("chatcmpl-"), created: unixSeconds(), model: "", systemFingerprint: "" };

    if (!parsed.stream) {
      const result = await chat.complete(parsed.request, ctx.signal);
      env.model = result.model.descriptor.id;
      env.systemFingerprint = systemFingerprint(env.model, engineVersion);
      ctx.log.prompt_tokens = result.usage.promptTokens;
      ctx.log.completion_tokens = result.usage.completionTokens;
      ctx.log.cached_tokens = result.usage.cachedTokens;
      sendJson(ctx.res, 200, renderChatCompletion(env, result.choices, result.usage));
      return;
    }

    // Errors up to the first generated part still get a proper status; after that they go in-stream.
    const run = await chat.start(parsed.request, ctx.signal);
    env.model = run.model.descriptor.id;
    env.systemFingerprint = systemFingerprint(env.model, engineVersion);
    const { res } = ctx;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const chunkOptions = (delta: ChunkDelta) => ({
      includeUsage: parsed.includeUsage,
      obfuscation: parsed.includeObfuscation ? obfuscation(delta) : undefined,
    });
    const send = (choice: number, delta: ChunkDelta): Promise<boolean> =>
      writeWithBackpressure(res, encodeSseJson(renderChunk(env, choice, delta, chunkOptions(delta))));
    try {
      for (let i = 0; i < parsed.request.n; i++) await send(i, { kind: "role" });
      for (let step = run.first; !step.done; step = await run.parts.next()) {
        const part = step.value;
        let open = true;
        if (part.type === "text-delta") open = await send(part.choice, { kind: "content", text: part.text });
        else if (part.type === "finish") open = await send(part.choice, { kind: "finish", finishReason: part.finishReason });
        else {
          ctx.log.prompt_tokens = part.usage.promptTokens;
          ctx.log.completion_tokens = part.usage.completionTokens;
          ctx.log.cached_tokens = part.usage.cachedTokens;
          if (parsed.includeUsage) open = await writeWithBackpressure(res, encodeSseJson(renderUsageChunk(env, part.usage)));
        }
        if (!open) return;
      }
      await writeWithBackpressure(res, SSE_DONE);
    } catch (error) {
      // The status line is gone; OpenAI's clients read an error object in a data frame.
      await writeWithBackpressure(res, encodeSseJson(toApiError(error).toJSON()));
    } finally {
      await run.parts.return?.(undefined);
      res.end();
    }
  };
}

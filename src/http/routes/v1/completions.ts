import { toApiError } from "../../../core/errors.ts";
import { encodeSseJson, SSE_DONE } from "../../../core/sse.ts";
import { CompletionChunkSerializer } from "../../../protocol/openai/completions-render.ts";
import type { CompletionsEndpoint } from "../../../services/endpoints/completions.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { logUsage, modelCall, sendAnswer } from "../../model-call.ts";
import type { Handler } from "../../router.ts";
import { openEventStream } from "../../sse-writer.ts";
import { computedOrRelayed } from "./forward.ts";


/**
 * `POST /v1/completions`. Models the local engine completes are validated against the spec,
 * admitted by the gate, metered, and answered as a `text_completion` object or its SSE chunks
 * ending in `data: [DONE]`; any other model goes to the relay (`forwardHandler`), which forwards
 * the body to an upstream that has the endpoint or answers 400 `unsupported_endpoint`.
 */
export function completionsHandler(endpoint: CompletionsEndpoint, gate: RequestGate): Handler {
  return computedOrRelayed(endpoint, gate, async (ctx, parsed) => {
    const { model, parsed: request } = parsed;
    ctx.log.model = request.request.model;
    ctx.log.stream = request.stream;
    const call = modelCall(ctx, gate);
    if (!request.stream) {
      const answer = await endpoint.run(call, parsed);
      logUsage(ctx);
      sendAnswer(ctx.res, answer);
      return;
    }

    // Errors up to the first generated part still get a proper status; after that they go in-stream.
    const { envelope, parts, first } = await endpoint.start(call, model, request);
    const serializer = new CompletionChunkSerializer(envelope, request);
    const writer = openEventStream(ctx.res);
    try {
      for (let step = first; !step.done; step = await parts.next()) {
        const frame = serializer.chunk(step.value);
        if (frame !== undefined && !(await writer.write(frame))) return;
      }
      writer.write(SSE_DONE);
    } catch (error) {
      // The status line is gone; OpenAI's clients read an error object in a data frame.
      writer.write(encodeSseJson(toApiError(error).toJSON()));
    } finally {
      await parts.return?.(undefined);
      await writer.end();
      logUsage(ctx);
    }
  });
}

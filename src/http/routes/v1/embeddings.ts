import type { EmbeddingsEndpoint } from "../../../services/endpoints/embeddings.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { modelCall, sendAnswer } from "../../model-call.ts";
import type { Handler } from "../../router.ts";
import { computedOrRelayed } from "./forward.ts";

/**
 * `POST /v1/embeddings`. Models that embed here (local GGUF models) are validated against the
 * spec, admitted by the gate, run at interactive priority and metered by their prompt tokens; any
 * other model goes to the relay (`forwardHandler`), which forwards the body to an upstream that has
 * the endpoint or answers 400 `unsupported_endpoint`.
 */
export function embeddingsHandler(endpoint: EmbeddingsEndpoint, gate: RequestGate): Handler {
  return computedOrRelayed(endpoint, gate, async (ctx, parsed) => {
    ctx.log.model = parsed.request.model;
    ctx.log.stream = false;
    const answer = await endpoint.run(modelCall(ctx, gate), parsed);
    ctx.log.prompt_tokens = ctx.metering?.usage?.promptTokens;
    ctx.log.inputs = parsed.request.inputs.length;
    sendAnswer(ctx.res, answer);
  });
}

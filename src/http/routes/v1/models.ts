import { modelNotFound } from "../../../core/errors.ts";
import { renderModel, renderModelList } from "../../../protocol/openai/models.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import { sendJson } from "../../respond.ts";
import type { Handler } from "../../router.ts";

/** `GET /v1/models`. */
export function listModelsHandler(registry: ModelRegistry): Handler {
  return async (ctx) => {
    // A key restricted to some models sees only those names.
    sendJson(ctx.res, 200, renderModelList(registry.list().map((m) => m.descriptor), ctx.principal.models));
  };
}

/** `GET /v1/models/{model}`; ids may contain slashes when percent-encoded. */
export function getModelHandler(registry: ModelRegistry): Handler {
  return async (ctx) => {
    const id = ctx.params.model ?? "";
    if (ctx.principal.models !== null && !ctx.principal.models.includes(id)) throw modelNotFound(id);
    sendJson(ctx.res, 200, renderModel(id, registry.resolve(id).descriptor));
  };
}
